"""``cityqa serve`` options: login accounts and the loopback-only rule."""

from __future__ import annotations

import ipaddress
from pathlib import Path

from rag.errors import ConfigError

LOOPBACK_NAMES = {"localhost", "localhost.localdomain", "ip6-localhost"}

Account = tuple[str, str]


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
