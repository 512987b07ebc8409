"""``cityqa serve`` options: login accounts and the loopback-only rule."""

from __future__ import annotations

import hmac
import ipaddress
import logging
import threading
import time
from collections.abc import Callable
from pathlib import Path

from rag.errors import ConfigError

LOOPBACK_NAMES = {"localhost", "localhost.localdomain", "ip6-localhost"}

Account = tuple[str, str]
log = logging.getLogger(__name__)


def is_loopback(host: str) -> bool:
    """True for 127.0.0.0/8, ::1 and localhost; a wildcard or any other name is not."""
    host = host.strip().strip("[]").lower()
    if host in LOOPBACK_NAMES:
        return True
    try:
        return ipaddress.ip_address(host).is_loopback
    except ValueError:
        return False


def parse_account(text: str, where: str) -> Account:
    user, sep, password = text.strip().partition(":")
    if not sep or not user.strip() or not password:
        raise ConfigError(f"{where} 的账号格式应为 USER:PASS（用户名和密码都不能为空）")
    return user.strip(), password


def load_accounts(auth: str | None, auth_file: Path | None) -> list[Account]:
    """Accounts from ``--auth USER:PASS`` and/or ``--auth-file`` (one USER:PASS a line,
    blank lines and ``#`` comments ignored)."""
    accounts: list[Account] = []
    if auth:
        accounts.append(parse_account(auth, "--auth"))
    if auth_file is not None:
        try:
            lines = Path(auth_file).expanduser().read_text(encoding="utf-8").splitlines()
        except OSError as exc:
            raise ConfigError(f"无法读取账号文件 {auth_file}：{exc.strerror or exc}") from exc
        for number, line in enumerate(lines, start=1):
            if line.strip() and not line.lstrip().startswith("#"):
                accounts.append(parse_account(line, f"{auth_file} 第 {number} 行"))
        if not accounts:
            raise ConfigError(f"账号文件 {auth_file} 中没有账号（每行一个 USER:PASS）")
    return accounts


def refusal_message(host: str) -> str:
    return (
        f"拒绝启动：监听地址 {host} 不是本机回环地址，局域网或公网上的其他人都能访问本服务，"
        "却没有设置登录账号。\n"
        "请加上 --auth USER:PASS 或 --auth-file FILE 设置账号；"
        "只在本机使用时请去掉 --host（默认 127.0.0.1）。"
    )


class ThrottledLogin:
    """Gradio's ``auth`` callable with brute-force protection.

    Every wrong password costs the caller ``delay_s``; after ``max_failures`` wrong passwords
    for one user name within ``lockout_s``, that name is locked for ``lockout_s`` (even the
    right password is refused meanwhile) and the lock doubles with each further lockout.
    Gradio does not hand the client address to this callable, so the user name is the key;
    failures for names that do not exist share one key, so guessing names is throttled too.
    """

    def __init__(
        self,
        accounts: list[Account],
        *,
        max_failures: int,
        lockout_s: float,
        delay_s: float,
        clock: Callable[[], float] = time.monotonic,
        sleep: Callable[[float], None] = time.sleep,
    ) -> None:
        self._accounts = dict(accounts)
        self._max = max_failures
        self._lockout = lockout_s
        self._delay = delay_s
        self._clock = clock
        self._sleep = sleep
        self._lock = threading.Lock()
        self._failures: dict[str, list[float]] = {}
        self._locked_until: dict[str, float] = {}
        self._lockouts: dict[str, int] = {}

    def __call__(self, username: str, password: str) -> bool:
        key = username if username in self._accounts else "\0unknown"
        now = self._clock()
        with self._lock:
            if self._locked_until.get(key, 0.0) > now:
                locked = True
            else:
                locked = False
                expected = self._accounts.get(username, "")
                ok = bool(expected) and hmac.compare_digest(
                    password.encode("utf-8"), expected.encode("utf-8")
                )
                if ok:
                    self._failures.pop(key, None)
                    self._lockouts.pop(key, None)
                    return True
                recent = [t for t in self._failures.get(key, []) if now - t < self._lockout]
                recent.append(now)
                self._failures[key] = recent
                if len(recent) >= self._max:
                    count = self._lockouts.get(key, 0)
                    self._locked_until[key] = now + self._lockout * (2**count)
                    self._lockouts[key] = count + 1
                    self._failures[key] = []
                    log.warning("login for %r locked after %d failures", username, len(recent))
        if not locked:
            self._sleep(self._delay)
        return False
