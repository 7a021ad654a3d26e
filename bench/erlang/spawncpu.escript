#!/usr/bin/env escript
%%! +P 4000000
%% spawncpu.escript RUNS N WARM: CPU time per spawn with N processes alive,
%% after a warm-up run at WARM processes.
%% Each run spawns N processes that wait in receive, timing each spawn/1
%% call, and keeps them all alive until it ends. It prints cpu_ns, the
%% emulator's CPU time on all its threads (statistics(runtime)) from the
%% first spawn until every process has reached its receive, divided by N;
%% and p50_ns, mean_ns and p99_ns of the spawn calls.
-mode(compile).
-include("common.hrl").

main([Runs, N, Warm]) ->
    version(),
    Size = list_to_integer(N),
    %% The lists of durations and pids take four words per process. The
    %% Go peer allocates its slices before it starts; so does this
    %% process, so that it does not copy a growing heap while timed.
    process_flag(min_heap_size, 4 * Size + 1000),
    run(list_to_integer(Warm), false),
    [run(Size, true) || _ <- lists:seq(1, list_to_integer(Runs))],
    ok.

run(N, Print) ->
    erlang:garbage_collect(),
    settle(),
    {C0, _} = erlang:statistics(runtime),
    {Ts, Ps} = timed(N, [], []),
    settle(),
    {C1, _} = erlang:statistics(runtime),
    kill_all(Ps),
    settle(),
    case Print of
        true ->
            emit("cpu_ns", (C1 - C0) * 1.0e6 / N),
            emit("p50_ns", percentile(0.5, Ts)),
            emit("mean_ns", lists:sum(Ts) / N),
            emit("p99_ns", percentile(0.99, Ts));
        false -> ok
    end.
