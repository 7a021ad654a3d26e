#!/usr/bin/env escript
%%! +P 4000000
%% spawncpu.escript RUNS N WARM: CPU time per spawn with N processes alive,
%% after a warm-up run at WARM processes.
%% Each run spawns N processes that wait in receive, timing each spawn/1
%% call, and keeps them all alive until it ends. It prints cpu_ns, the
%% emulator's CPU time on all its threads, user and system, from the first
%% spawn until every process has reached its receive, divided by N;
%% p50_ns, mean_ns and p99_ns of the spawn calls; and user_ns, the user
%% part of cpu_ns.
%%
%% The CPU time comes from /proc/self/stat, as isle's comes from
%% getrusage: statistics(runtime) counts user time only, and leaves out
%% the page faults that fresh process heaps take (more than half of the
%% total at a million processes).
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
    {U0, C0} = cpu_ns(),
    {Ts, Ps} = timed(N, [], []),
    settle(),
    {U1, C1} = cpu_ns(),
    kill_all(Ps),
    settle(),
    case Print of
        true ->
            emit("cpu_ns", (C1 - C0) / N),
            emit("p50_ns", percentile(0.5, Ts)),
            emit("mean_ns", lists:sum(Ts) / N),
            emit("p99_ns", percentile(0.99, Ts)),
            emit("user_ns", (U1 - U0) / N);
        false -> ok
    end.

%% cpu_ns returns the user CPU time of every thread of the emulator so
%% far, and its user and system time, in ns: fields 14 and 15 of
%% /proc/self/stat, in clock ticks.
cpu_ns() ->
    {ok, B} = file:read_file("/proc/self/stat"),
    %% The command name, in parentheses, may hold spaces: split after it.
    [_, Rest] = string:split(B, <<") ">>, trailing),
    Fields = string:lexemes(Rest, " "),
    User = binary_to_integer(lists:nth(12, Fields)),
    Sys = binary_to_integer(lists:nth(13, Fields)),
    Ns = 1.0e9 / clock_ticks(),
    {User * Ns, (User + Sys) * Ns}.

clock_ticks() ->
    case get(clock_ticks) of
        undefined ->
            T = list_to_integer(string:trim(os:cmd("getconf CLK_TCK"))),
            put(clock_ticks, T),
            T;
        T -> T
    end.
