#!/usr/bin/env escript
%% restart.escript RUNS N: a gen_server under a one_for_one supervisor is
%% made to crash N times per run; each time, the time from the crash to
%% the first call the restarted server answers. Prints restart_p50_ns and
%% restart_p99_ns per run. Crash reports are off, as they are in isle's
%% benchmark node.
-module(restart).
-mode(compile).
-export([init/1, handle_call/3, handle_cast/2]).
-include("common.hrl").

main([Runs, N]) ->
    version(),
    logger:set_primary_config(level, none),
    Count = list_to_integer(N),
    {ok, Sup} = supervisor:start_link({local, bench_sup}, ?MODULE, sup),
    measure(min(Count, 100)),
    [begin
         L = measure(Count),
         emit("restart_p50_ns", percentile(0.5, L)),
         emit("restart_p99_ns", percentile(0.99, L))
     end || _ <- lists:seq(1, list_to_integer(Runs))],
    unlink(Sup),
    exit(Sup, shutdown),
    ok.

%% The supervisor: restarts the worker at once, and allows any number.
init(sup) ->
    Worker = #{id => bench_worker, restart => permanent,
               start => {gen_server, start_link, [{local, bench_worker}, ?MODULE, worker, []]}},
    {ok, {#{strategy => one_for_one, intensity => 1000000000, period => 1}, [Worker]}};
%% The worker.
init(worker) -> {ok, 0}.

handle_call(ping, _From, S) -> {reply, pong, S}.
handle_cast(crash, S) -> {stop, crash, S}.

measure(N) -> [restart_once() || _ <- lists:seq(1, N)].

%% restart_once crashes the server and calls it until the new one answers.
restart_once() ->
    Old = whereis(bench_worker),
    T0 = now_ns(),
    gen_server:cast(Old, crash),
    ping(Old),
    now_ns() - T0.

%% ping waits for a new server to be registered, then calls it.
ping(Old) ->
    case whereis(bench_worker) of
        New when is_pid(New), New =/= Old ->
            try gen_server:call(New, ping) of
                pong -> ok
            catch
                exit:_ -> ping(Old)
            end;
        _ ->
            erlang:yield(),
            ping(Old)
    end.
