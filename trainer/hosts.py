"""`--hosts a,b:2`: the machine each worker of a group runs on.

A list of SSH destinations, as the user types them to `ssh` (a name from
~/.ssh/config, `user@host`, an address), each optionally followed by `:N` for
N workers on that host. Ranks go in the order written: `--hosts a:2,b` puts
ranks 0 and 1 on a and rank 2 on b; rank 0's host is the coordinator's.

Standard library only: the reaper reads it.
"""

from __future__ import annotations

import re

from trainer.distributed import MAX_WORKERS

# What ssh accepts as a destination, short of IPv6 literals (their colons would
# read as a count): a name in ~/.ssh/config, user@host, a host name or an IPv4 address.
_DESTINATION = re.compile(r"^(?:[A-Za-z0-9._-]+@)?[A-Za-z0-9][A-Za-z0-9._-]*$")


class HostsError(ValueError):
    """A --hosts list that cannot run, in one line."""


def parse_hosts(spec: str) -> tuple[str, ...]:
    """One SSH destination per rank, in rank order."""
    ranks: list[str] = []
    for part in (p.strip() for p in spec.split(",")):
        if not part:
            raise HostsError(f"--hosts {spec!r}: an empty entry; write host names separated by commas, "
                             "e.g. --hosts gpu1,gpu2:2")
        name, _, count = part.partition(":")
        if not _DESTINATION.match(name):
            raise HostsError(f"--hosts: {name!r} is not an SSH destination; use a host name, user@host or "
                             "a name from ~/.ssh/config (IPv6 literals: give them a name in ~/.ssh/config)")
        if count and (not count.isdigit() or int(count) < 1):
            raise HostsError(f"--hosts: {part!r}: the count after ':' must be a whole number of workers, "
                             f"e.g. {name}:2")
        ranks.extend([name] * (int(count) if count else 1))
    if len(ranks) < 2:
        raise HostsError(f"--hosts {spec!r} names one worker; a group needs two or more "
                         "(for one process on this machine leave --hosts out)")
    if len(ranks) > MAX_WORKERS:
        raise HostsError(f"--hosts {spec!r} names {len(ranks)} workers; memtui starts at most {MAX_WORKERS}")
    return tuple(ranks)


def worker_count(spec: object) -> int | None:
    """How many workers a --hosts list names (None: no list, or one that cannot run)."""
    try:
        return len(parse_hosts(spec)) if isinstance(spec, str) else None
    except HostsError:
        return None


def hosts_problem(spec: object, workers: int) -> str | None:
    """What is wrong with a --hosts list beside this worker count, in one line (None: nothing)."""
    if not isinstance(spec, str):
        return f"--hosts: {spec!r} must be host names separated by commas, e.g. --hosts gpu1,gpu2"
    try:
        ranks = parse_hosts(spec)
    except HostsError as exc:
        return str(exc)
    if workers != len(ranks):
        return (f"--workers {workers} and --hosts {spec} disagree: the hosts name {len(ranks)} workers; "
                "leave --workers out (--hosts says how many) or write host:N")
    return None


def local_ranks(hosts: tuple[str, ...]) -> list[int]:
    """Each rank's index among the workers of its own host (which GPU it takes there)."""
    seen: dict[str, int] = {}
    out = []
    for host in hosts:
        out.append(seen.get(host, 0))
        seen[host] = out[-1] + 1
    return out


def coordinator_host(destination: str) -> str:
    """The address the other workers reach rank 0 at: its destination without the user."""
    return destination.rpartition("@")[2]
