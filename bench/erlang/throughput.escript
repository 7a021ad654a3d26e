#!/usr/bin/env escript
%% throughput.escript RUNS TOTAL SENDERS: for each count S in the
%% comma-separated SENDERS, S processes send TOTAL/S small messages each to
%% one receiver, which counts them; prints tput_S, messages per second from
%% release to the last message. Erlang mailboxes are unbounded: senders
%% never wait for room.
-mode(compile).
-include("common.hrl").

main([Runs, Total, Senders]) ->
    version(),
    T = list_to_integer(Total),
    [begin
         run(S, T div S),
         [emit(io_lib:format("tput_~w", [S]), S * (T div S) / (run(S, T div S) / 1.0e9))
          || _ <- lists:seq(1, list_to_integer(Runs))]
     end || S <- ints(Senders)],
    ok.

run(S, Each) ->
    Me = self(),
    Ps = [spawn(fun() -> receive go -> send(Me, Each) end end) || _ <- lists:seq(1, S)],
    T0 = now_ns(),
    [P ! go || P <- Ps],
    count(S * Each),
    now_ns() - T0.

send(_, 0) -> ok;
send(To, N) -> To ! {data, <<1, 2, 3, 4>>}, send(To, N - 1).

count(0) -> ok;
count(N) -> receive {data, _} -> count(N - 1) end.
