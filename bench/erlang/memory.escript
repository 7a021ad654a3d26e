#!/usr/bin/env escript
%%! +P 4000000
%% memory.escript RUNS SIZES: for each N in the comma-separated SIZES,
%% spawns N processes that wait in receive and prints, per process, the
%% growth of the emulator's resident set (rss_N, from /proc/self/status)
%% and of erlang:memory(processes) (erl_N), and the growth of its page
%% tables (pte_N, VmPTE), plus process_info memory of one idle process
%% (procinfo).
-mode(compile).
-include("common.hrl").

main([Runs, Sizes]) ->
    version(),
    measure(1000, false),
    [[measure(N, true) || _ <- lists:seq(1, list_to_integer(Runs))] || N <- ints(Sizes)],
    P = spawn(fun idle/0),
    settle(),
    {memory, M} = erlang:process_info(P, memory),
    emit("procinfo", M),
    ok.

measure(N, Print) ->
    erlang:garbage_collect(),
    settle(),
    R0 = rss_bytes(),
    P0 = pte_bytes(),
    E0 = erlang:memory(processes),
    Ps = spawn_idle(N),
    settle(),
    erlang:garbage_collect(),
    R1 = rss_bytes(),
    P1 = pte_bytes(),
    E1 = erlang:memory(processes),
    case Print of
        true ->
            emit(io_lib:format("rss_~w", [N]), (R1 - R0) / N),
            emit(io_lib:format("erl_~w", [N]), (E1 - E0) / N),
            emit(io_lib:format("pte_~w", [N]), (P1 - P0) / N);
        false -> ok
    end,
    kill_all(Ps),
    settle().
