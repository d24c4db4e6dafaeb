"""A tiny stand-in SDK: the sample suite exercises it like an SDK's code examples would."""

from dataclasses import dataclass


@dataclass(frozen=True)
class Bucket:
    name: str
    region: str = "us-east-1"

    def arn(self) -> str:
        return f"arn:aws:s3:::{self.name}"


def validate_bucket_name(name: str) -> bool:
    return 3 <= len(name) <= 63 and name == name.lower() and not name.startswith("-")


def paginate(items: list, page_size: int) -> list[list]:
    if page_size < 1:
        raise ValueError("page_size must be at least 1")
    return [items[i : i + page_size] for i in range(0, len(items), page_size)]


def retry_delays(attempts: int, base: float = 0.1, cap: float = 2.0) -> list[float]:
    return [min(cap, base * 2**attempt) for attempt in range(attempts)]
