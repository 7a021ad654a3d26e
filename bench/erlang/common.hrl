%% common.hrl: helpers shared by the benchmark escripts. Every escript
%% prints one "metric value" line per counted run, and one "version" line,
%% for bench/erlang.go to parse. A warm-up run comes first and prints
%% nothing.

-compile(nowarn_unused_function).

now_ns() -> erlang:monotonic_time(nanosecond).

%% percentile returns the nearest-rank Q-quantile of a list of numbers, as
%% bench/stats.go does.
percentile(Q, L) ->
    S = lists:sort(L),
    N = length(S),
    lists:nth(max(1, min(N, ceil(Q * N))), S).

emit(Metric, Value) -> io:format("~s ~w~n", [Metric, Value]).

version() ->
    io:format("version OTP-~s erts-~s schedulers=~w~n",
              [erlang:system_info(otp_release), erlang:system_info(version),
               erlang:system_info(schedulers_online)]).

ints(S) -> [list_to_integer(X) || X <- string:lexemes(S, ",")].

idle() -> receive stop -> ok end.

spawn_idle(N) -> [spawn(fun idle/0) || _ <- lists:seq(1, N)].

%% timed spawns N idle processes, timing each spawn/1 call, and returns the
%% durations in ns and the pids.
timed(0, Acc, Ps) -> {Acc, Ps};
timed(N, Acc, Ps) ->
    T0 = now_ns(),
    P = spawn(fun idle/0),
    T1 = now_ns(),
    timed(N - 1, [T1 - T0 | Acc], [P | Ps]).

kill_all(Ps) -> [exit(P, kill) || P <- Ps], ok.

%% settle waits until no process is runnable, so that freshly spawned
%% processes have run to their receive.
settle() ->
    case erlang:statistics(total_run_queue_lengths_all) of
        0 -> ok;
        _ -> timer:sleep(1), settle()
    end.

rss_bytes() -> status_bytes(<<"VmRSS:">>).

%% pte_bytes is the emulator's page tables (VmPTE), which its RSS does not
%% count.
pte_bytes() -> status_bytes(<<"VmPTE:">>).

status_bytes(Field) ->
    {ok, B} = file:read_file("/proc/self/status"),
    [_, Rest] = binary:split(B, Field),
    [Num | _] = string:lexemes(binary_to_list(Rest), " \t\nkB"),
    list_to_integer(Num) * 1024.
