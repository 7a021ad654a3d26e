#!/usr/bin/env escript
%% pingpong.escript RUNS N: two processes trade a 4-byte binary N times per
%% run; prints rt_ns, the mean round trip.
-mode(compile).
-include("common.hrl").

main([Runs, N]) ->
    version(),
    Count = list_to_integer(N),
    Pong = spawn(fun pong/0),
    volley(Pong, min(Count, 10000)),
    [begin
         T0 = now_ns(),
         volley(Pong, Count),
         emit("rt_ns", (now_ns() - T0) / Count)
     end || _ <- lists:seq(1, list_to_integer(Runs))],
    Pong ! stop,
    ok.

pong() ->
    receive
        {ping, From, B} -> From ! {pong, B}, pong();
        stop -> ok
    end.

volley(_, 0) -> ok;
volley(Pong, N) ->
    Pong ! {ping, self(), <<1, 2, 3, 4>>},
    receive {pong, _} -> volley(Pong, N - 1) end.
