#!/usr/bin/env escript
%%! +P 4000000
%% ring.escript RUNS N LAPS: a ring of N processes (the escript's own
%% process is the coordinator, as in bench/wasm/ring.c) passes a token
%% round LAPS times. Prints setup_ms (spawning the ring), laps_ms (all the
%% laps) and first_ms (the first of them, timed alone).
-mode(compile).
-include("common.hrl").

main([Runs, N, Laps]) ->
    version(),
    Size = list_to_integer(N),
    L = list_to_integer(Laps),
    run(Size, L, false),
    [run(Size, L, true) || _ <- lists:seq(1, list_to_integer(Runs))],
    ok.

run(N, Laps, Print) ->
    T0 = now_ns(),
    {Next, Ps} = build(N - 1, self(), []),
    T1 = now_ns(),
    laps(Next, 1),
    Tf = now_ns(),
    laps(Next, Laps - 1),
    T2 = now_ns(),
    kill_all(Ps),
    settle(),
    case Print of
        true -> emit("setup_ms", (T1 - T0) / 1.0e6), emit("laps_ms", (T2 - T1) / 1.0e6),
                emit("first_ms", (Tf - T1) / 1.0e6);
        false -> ok
    end.

build(0, Next, Ps) -> {Next, Ps};
build(K, Next, Ps) ->
    P = spawn(fun() -> ring_node(Next) end),
    build(K - 1, P, [P | Ps]).

ring_node(Next) ->
    receive token -> Next ! token, ring_node(Next) end.

laps(_, 0) -> ok;
laps(Next, K) ->
    Next ! token,
    receive token -> laps(Next, K - 1) end.
