"""The proxies ``wrap()`` returns: the exchange's unified methods, carried out by the flow.

``SyncExchange`` wraps a ``ccxt`` exchange, ``AsyncExchange`` a
``ccxt.async_support`` one; both run the same flow (``_flow.py``), the first
with plain calls, the second with ``await``. Writes (``create_order``,
``cancel_order``, ``edit_order``, ``cancel_all_orders``) and every ``fetch_*``
read go through the flow, under either of ccxt's spellings (``createOrder``,
``fetchOrder``). ccxt's other ways to place, cancel or edit orders
(``create_orders``, ``create_limit_buy_order``, ``cancel_orders`` ...) are
refused: they would leave without the gate, the halts or reconciliation; the
unwrapped client (``proxy.exchange``) is there to bypass the wrapper on purpose.
Every other attribute is the exchange's own. The venue's requested quiet is kept
per exchange client: every proxy of one client waits it out.
"""

from __future__ import annotations

import asyncio
import inspect
import logging
import math
import re
import time
import weakref
from collections.abc import Awaitable, Callable
from typing import Any

from ..._core.arguments import attempt_of, callable_of
from ..._core.errors import ActionRequired, ArgumentTypeError, ArgumentValueError
from ..._engine.recommend import _policy as read_policy
from ._flow import (
    AMEND,
    CANCEL,
    PLACE,
    QUERY,
    Call,
    Consult,
    Flow,
    Gate,
    Send,
    Sent,
    Settings,
    Wait,
    _log,
)
from ._recipes import as_sent, new_client_order_id, recipe_for

__all__ = ["AsyncExchange", "SyncExchange", "wrap"]

_WRITES = {
    "create_order": PLACE,
    "cancel_order": CANCEL,
    "cancel_all_orders": CANCEL,
    "edit_order": AMEND,
}
_ORDER_ARGS = ("symbol", "type", "side", "amount", "price", "params")
#: ccxt's unified parameters that make an order a conditional (trigger) one
_CONDITIONAL = ("triggerPrice", "stopPrice", "stopLossPrice", "takeProfitPrice",
                "trailingPercent", "trailingAmount", "trailingTriggerPrice")  # fmt: skip
WHILE_HALTED = ("refuse", "allow_exits")
#: ccxt's camelCase spellings of the writes the flow carries out (``createOrder`` ...)
_CAMEL = {re.sub(r"_(\w)", lambda m: m[1].upper(), name): name for name in _WRITES}
#: other ways ccxt has to place, cancel or edit orders (either spelling, snake-cased): refused
_OTHER_ORDER_CALL = re.compile(r"^(create|cancel|edit)_.*order")
_HUMP = re.compile(r"(?<=[a-z0-9])(?=[A-Z])")
#: the quiet each exchange client was asked for, shared by every proxy of it
_GATES: weakref.WeakKeyDictionary[Any, Gate] = weakref.WeakKeyDictionary()


def _gate_of(exchange: Any) -> Gate:
    try:
        return _GATES.setdefault(exchange, Gate())
    except TypeError:  # a client that cannot be weakly referenced: a gate of its own
        return Gate()


class _Proxy:
    """What both proxies share: the settings, the gate, building a call."""

    def __init__(self, exchange: Any, settings: Settings) -> None:
        self._exchange = exchange
        self._settings = settings
        self._gate = _gate_of(exchange)

    @property
    def exchange(self) -> Any:
        """The wrapped ccxt exchange."""
        return self._exchange

    def __getattr__(self, name: str) -> Any:
        if name in _CAMEL:
            return getattr(self, _CAMEL[name])
        value = getattr(self._exchange, name)
        if not callable(value):
            return value
        if name.startswith("fetch_") or (name.startswith("fetch") and name[5:6].isupper()):
            return self._read(name)
        if _OTHER_ORDER_CALL.match(_HUMP.sub("_", name).lower()):
            raise ArgumentValueError(
                "method",
                "one the wrapper carries out (create_order, cancel_order, cancel_all_orders, "
                "edit_order, fetch_*); call proxy.exchange." + name + " to bypass it on purpose",
                name,
            )
        return value

    def __repr__(self) -> str:
        return f"<normalizer.ccxt proxy of {self._settings.venue}>"

    def _read(self, name: str) -> Any:  # overridden
        raise NotImplementedError

    def _order_call(self, args: tuple[Any, ...], kwargs: dict[str, Any]) -> Call:
        """A ``create_order`` call with its client order id (the caller's, under
        ``clientOrderId`` or the venue's own key, or a new one), sent as ccxt sends it."""
        bound = dict(zip(_ORDER_ARGS, args, strict=False))
        bound.update(kwargs)
        params = dict(bound.get("params") or {})
        recipe = self._settings.recipe
        keys = [k for k in ("clientOrderId", *recipe.native) if params.get(k) is not None]
        given = {str(params[k]) for k in keys}
        if len(given) > 1:
            raise ArgumentValueError(
                "params", f"one client order id, not several ({', '.join(keys)})", params
            )
        cid = as_sent(recipe, given.pop()) if given else new_client_order_id(recipe)
        for k in keys:
            params[k] = cid
        params[recipe.send_as] = cid
        bound["params"] = params
        return Call(
            "create_order",
            (),
            bound,
            PLACE,
            symbol=bound.get("symbol"),
            client_order_id=str(cid),
            exit=bool(params.get("reduceOnly") or params.get("reduce_only")),
            conditional=any(params.get(k) is not None for k in _CONDITIONAL),
        )

    def _write_call(self, method: str, args: tuple[Any, ...], kwargs: dict[str, Any]) -> Call:
        if method == "create_order":
            return self._order_call(args, kwargs)
        symbol = kwargs.get("symbol", args[1] if len(args) > 1 else None)
        if method == "cancel_all_orders":
            symbol = kwargs.get("symbol", args[0] if args else None)
        params = kwargs.get("params") or {}
        return Call(
            method,
            args,
            kwargs,
            _WRITES[method],
            symbol=symbol,
            exit=method != "edit_order" or bool(params.get("reduceOnly")),
        )

    @staticmethod
    def _read_call(method: str, args: tuple[Any, ...], kwargs: dict[str, Any]) -> Call:
        symbol = kwargs.get("symbol", args[0] if args and isinstance(args[0], str) else None)
        if method == "fetch_order":
            symbol = kwargs.get("symbol", args[1] if len(args) > 1 else None)
        return Call(method, args, kwargs, QUERY, symbol=symbol, exit=True)


class SyncExchange(_Proxy):
    """A ``ccxt`` exchange whose calls carry the normalizer's advice out."""

    def __init__(self, exchange: Any, settings: Settings, sleep: Callable[[float], None]) -> None:
        super().__init__(exchange, settings)
        self._sleep = sleep

    def create_order(self, *args: Any, **kwargs: Any) -> Any:
        """ccxt's ``create_order``: a client order id is added unless given; the order is
        reconciled by it, never placed twice."""
        return self._run(self._write_call("create_order", args, kwargs))

    def cancel_order(self, *args: Any, **kwargs: Any) -> Any:
        return self._run(self._write_call("cancel_order", args, kwargs))

    def cancel_all_orders(self, *args: Any, **kwargs: Any) -> Any:
        return self._run(self._write_call("cancel_all_orders", args, kwargs))

    def edit_order(self, *args: Any, **kwargs: Any) -> Any:
        return self._run(self._write_call("edit_order", args, kwargs))

    def _read(self, name: str) -> Callable[..., Any]:
        def read(*args: Any, **kwargs: Any) -> Any:
            return self._run(self._read_call(name, args, kwargs))

        read.__name__ = name
        return read

    def _run(self, call: Call) -> Any:
        from ._flow import run

        try:
            return self._drive(run(self._settings, self._gate, call))
        except BaseException as exc:
            _note(self._settings, exc, call)
            raise

    def _drive(self, flow: Flow) -> Any:
        answer: Any = None
        failed: Exception | None = None  # the supervisor's, handed to the flow
        while True:
            try:
                step = flow.throw(failed) if failed is not None else flow.send(answer)
            except StopIteration as done:
                return done.value
            failed = None
            if isinstance(step, Send):
                try:
                    answer = Sent(getattr(self._exchange, step.method)(*step.args, **step.kwargs))
                except Exception as exc:  # what the venue or ccxt raised: the flow judges it
                    answer = Sent(error=exc)
            elif isinstance(step, Wait):
                if step.seconds > 0:
                    self._sleep(step.seconds)
                answer = None
            else:
                try:
                    answer = getattr(self._settings.supervisor, step.name)(**step.kwargs)
                except Exception as exc:
                    failed = exc


class AsyncExchange(_Proxy):
    """A ``ccxt.async_support`` exchange whose calls carry the advice out (awaitable)."""

    def __init__(
        self, exchange: Any, settings: Settings, sleep: Callable[[float], Awaitable[None]]
    ) -> None:
        super().__init__(exchange, settings)
        self._sleep = sleep

    async def create_order(self, *args: Any, **kwargs: Any) -> Any:
        """See ``SyncExchange.create_order``."""
        return await self._run(self._write_call("create_order", args, kwargs))

    async def cancel_order(self, *args: Any, **kwargs: Any) -> Any:
        return await self._run(self._write_call("cancel_order", args, kwargs))

    async def cancel_all_orders(self, *args: Any, **kwargs: Any) -> Any:
        return await self._run(self._write_call("cancel_all_orders", args, kwargs))

    async def edit_order(self, *args: Any, **kwargs: Any) -> Any:
        return await self._run(self._write_call("edit_order", args, kwargs))

    async def close(self) -> None:
        """Close the wrapped exchange's session."""
        await self._exchange.close()

    def _read(self, name: str) -> Callable[..., Awaitable[Any]]:
        async def read(*args: Any, **kwargs: Any) -> Any:
            return await self._run(self._read_call(name, args, kwargs))

        read.__name__ = name
        return read

    async def _run(self, call: Call) -> Any:
        try:
            return await self._drive(call)
        except BaseException as exc:  # asyncio's cancellation too
            _note(self._settings, exc, call)
            raise

    async def _drive(self, call: Call) -> Any:
        from ._flow import run

        flow = run(self._settings, self._gate, call)
        answer: Any = None
        failed: Exception | None = None  # the supervisor's, handed to the flow
        while True:
            try:
                step = flow.throw(failed) if failed is not None else flow.send(answer)
            except StopIteration as done:
                return done.value
            failed = None
            if isinstance(step, Send):
                try:
                    method = getattr(self._exchange, step.method)
                    answer = Sent(await method(*step.args, **step.kwargs))
                except Exception as exc:  # what the venue or ccxt raised: the flow judges it
                    answer = Sent(error=exc)
            elif isinstance(step, Wait):
                if step.seconds > 0:
                    await self._sleep(step.seconds)
                answer = None
            else:
                try:
                    answer = await _consult(self._settings.supervisor, step)
                except Exception as exc:
                    failed = exc


def _note(settings: Settings, exc: BaseException, call: Call) -> None:
    """A placement that ends in anything but the wrapper's own answer (a cancellation, an
    interrupt, a bug) says which client order id to reconcile, on the exception (Python
    3.11+) and in a log record: it may have been sent."""
    if call.operation != PLACE or call.sent_at is None or isinstance(exc, ActionRequired):
        return
    _log(settings, "interrupted", call, None, error=type(exc).__name__)
    add = getattr(exc, "add_note", None)
    if add is not None:
        add(f"client order id {call.client_order_id}: the order may exist, reconcile it")


async def _consult(supervisor: Any, step: Consult) -> Any:
    """The supervisor's async twin of ``step.name`` where it has one."""
    twin = getattr(supervisor, "a" + step.name, None)
    if twin is not None:
        return await twin(**step.kwargs)
    return getattr(supervisor, step.name)(**step.kwargs)


def _logger(logger: logging.Logger | None) -> Callable[[str, dict[str, Any]], None]:
    log = logger or logging.getLogger("normalizer.ccxt")

    def emit(event: str, record: dict[str, Any]) -> None:
        log.info("%s %s %s", record["venue"], record["method"], event, extra={"normalizer": record})

    return emit


def wrap(
    exchange: Any,
    *,
    supervisor: Any = None,
    policy: Any = None,
    venue: str | None = None,
    account: str | None = None,
    while_halted: str = "refuse",
    replace_after_s: float = 5.0,
    confirmations: int = 2,
    max_queries: int = 10,
    poll_s: float = 1.0,
    max_attempts: int = 4,
    logger: logging.Logger | None = None,
    clock: Callable[[], float] | None = None,
    sleep: Callable[[float], Any] | None = None,
) -> Any:
    """A proxy of the ccxt ``exchange`` that carries the normalizer's advice out.

    Sync for a ``ccxt`` exchange, awaitable for a ``ccxt.async_support`` one.
    ``supervisor`` (a ``normalizer.Supervisor``) adds the fleet's halts and
    judgement; ``policy`` is the policy for ``recommend()`` when there is no
    supervisor; ``venue`` the rules' name (default: the exchange's ccxt id);
    ``account`` the account key the supervisor's scopes use.
    ``while_halted="allow_exits"`` lets cancels and reduce-only orders through an
    account or symbol halt (never a venue-wide one). The safe re-place rule is the
    supervisor's (``Supervisor.may_replace``: its policy's re-placing sequence) when
    one is given, else ``confirmations`` not-founds with the latest send at least
    ``replace_after_s`` old; ``max_queries`` bounds one
    reconciliation, ``poll_s`` spaces its queries; ``max_attempts`` bounds the
    sends of one call. ``clock``/``sleep`` are for tests (a virtual clock).
    """
    if not callable(getattr(exchange, "create_order", None)):
        raise ArgumentTypeError("exchange", "a ccxt exchange (with create_order)", exchange)
    if while_halted not in WHILE_HALTED:
        raise ArgumentValueError("while_halted", f"one of {WHILE_HALTED}", while_halted)
    for name, seconds in (("replace_after_s", replace_after_s), ("poll_s", poll_s)):
        if isinstance(seconds, bool) or not isinstance(seconds, int | float):
            raise ArgumentTypeError(name, "a number of seconds", seconds)
        if not 0 <= seconds < math.inf:
            raise ArgumentValueError(name, "must be a finite number of seconds >= 0", seconds)
    counts = [
        attempt_of(value, name)  # a whole number from 1, as attempt= is read everywhere
        for name, value in (
            ("confirmations", confirmations),
            ("max_queries", max_queries),
            ("max_attempts", max_attempts),
        )
    ]
    for name, text in (("venue", venue), ("account", account)):
        if text is not None and not isinstance(text, str):
            raise ArgumentTypeError(name, "a str or None", text)
    if policy is not None:  # read as recommend() reads it, now rather than at a failure
        policy = read_policy(policy)
    if logger is not None and not isinstance(logger, logging.Logger):
        raise ArgumentTypeError("logger", "a logging.Logger or None", logger)
    callable_of("clock", clock)
    callable_of("sleep", sleep)
    name = venue if venue is not None else str(getattr(exchange, "id", "") or "")
    if not name:
        raise ArgumentValueError("venue", "the venue's name (the exchange has no id)", venue)
    is_async = inspect.iscoroutinefunction(exchange.create_order)
    settings = Settings(
        venue=name,
        recipe=recipe_for(name),
        client=exchange,
        supervisor=supervisor,
        policy=policy,
        account=account,
        while_halted=while_halted,
        replace_after_s=float(replace_after_s),
        confirmations=counts[0],
        max_queries=counts[1],
        poll_s=float(poll_s),
        max_attempts=counts[2],
        clock=clock or time.monotonic,
        log=_logger(logger),
    )
    if is_async:
        return AsyncExchange(exchange, settings, sleep or asyncio.sleep)
    return SyncExchange(exchange, settings, sleep or time.sleep)
