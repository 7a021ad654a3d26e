#!/usr/bin/env escript
%%! +P 4000000
%% spawn.escript RUNS N LIVE SAMPLES: spawn latency of idle processes.
%% Each run spawns N processes that wait in receive, timing each spawn/1
%% call, and prints p50_ns and p99_ns; the processes stay alive until the
%% run ends. Then, for each count L in the comma-separated LIVE, it spawns
%% L idle processes and times SAMPLES more spawns, printing live_L_p50_ns.
-mode(compile).
-include("common.hrl").

main([Runs, N, Live, Samples]) ->
    version(),
    R = list_to_integer(Runs),
    run(list_to_integer(N), false),
    [run(list_to_integer(N), true) || _ <- lists:seq(1, R)],
    [live(L, list_to_integer(Samples), R) || L <- ints(Live)],
    ok.

run(N, Print) ->
    {Ts, Ps} = timed(N, [], []),
    kill_all(Ps),
    settle(),
    case Print of
        true -> emit("p50_ns", percentile(0.5, Ts)), emit("p99_ns", percentile(0.99, Ts));
        false -> ok
    end.

live(L, Samples, Runs) ->
    [begin
         Idle = spawn_idle(L),
         settle(),
         {Ts, Ps} = timed(Samples, [], []),
         kill_all(Ps ++ Idle),
         settle(),
         emit(io_lib:format("live_~w_p50_ns", [L]), percentile(0.5, Ts))
     end || _ <- lists:seq(1, Runs)].
