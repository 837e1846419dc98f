#!/usr/bin/env escript
%% The BEAM side of ward-nano's bench: the same three numbers for Erlang processes.
%%   escript crates/ward-nano/bench/beam_bench.escript 100000
%% spawn_ns: spawning N processes that each wait in receive, per process;
%% idle_process_bytes: erlang:memory(total) growth per waiting process;
%% roundtrip_ns: one message there and back between two processes, per round trip.
%%! +P 2000000
-mode(compile).

main(Args) ->
    N = case Args of [A | _] -> list_to_integer(A); [] -> 100000 end,
    Waiter = fun() -> receive {From, M} -> From ! M; stop -> ok end end,
    %% warm up
    [P ! stop || P <- [spawn(Waiter) || _ <- lists:seq(1, 1000)]],
    erlang:garbage_collect(),
    Before = erlang:memory(total),
    T0 = erlang:monotonic_time(nanosecond),
    Procs = [spawn(Waiter) || _ <- lists:seq(1, N)],
    T1 = erlang:monotonic_time(nanosecond),
    After = erlang:memory(total),
    io:format("spawn_ns ~p~n", [(T1 - T0) div N]),
    Rounds = 200000,
    Echo = spawn(fun Loop() -> receive {From, M} -> From ! M, Loop(); stop -> ok end end),
    Self = self(),
    Pinger = spawn(fun() ->
        S = erlang:monotonic_time(nanosecond),
        ping(Echo, Rounds),
        E = erlang:monotonic_time(nanosecond),
        Self ! {done, E - S}
    end),
    receive {done, Ns} -> io:format("roundtrip_ns ~p~n", [Ns div Rounds]) end,
    io:format("idle_process_bytes ~p~n", [(After - Before - 16 * N) div N]),
    Echo ! stop,
    _ = Pinger,
    [P ! stop || P <- Procs],
    ok.

ping(_Echo, 0) -> ok;
ping(Echo, K) ->
    Echo ! {self(), <<1,2,3,4,5,6,7,8>>},
    receive _ -> ok end,
    ping(Echo, K - 1).
