"""memtier_benchmark's workload knobs, checked (no numpy here: `info` and argument errors
must not need the bench extra). tiercache.cli.workload turns a spec into requests."""

from __future__ import annotations

from dataclasses import dataclass

PATTERNS = "RSGZP"


class WorkloadError(ValueError):
    """A workload knob that makes no sense (the CLI prints it on one line, exit status 2)."""


@dataclass(frozen=True)
class WorkloadSpec:
    """memtier_benchmark's workload knobs (defaults as in memtier where they fit in-process)."""

    ratio: tuple[int, int] = (1, 10)  # sets : gets, issued as `sets` sets then `gets` gets
    key_pattern: tuple[str, str] = ("R", "R")  # for sets, for gets
    key_minimum: int = 0
    key_maximum: int = 100_000
    key_prefix: str = "memtier-"
    key_stddev: float | None = None  # default (max - min) / 6
    key_median: float | None = None  # default (min + max) / 2
    key_zipf_exp: float = 1.0
    data_size: int = 32
    data_size_range: tuple[int, int] | None = None
    data_size_list: tuple[tuple[int, int], ...] | None = None  # (size, weight)
    data_size_pattern: str = "R"  # R random, S sizes in turn over the range
    threads: int = 1
    requests: int | None = 200_000  # per thread; None with test_time
    test_time: float | None = None
    expiry_range: tuple[int, int] = (0, 0)
    seed: int = 1

    def validate(self) -> None:
        """Raise WorkloadError naming the first knob that makes no sense."""
        s, g = self.ratio
        if s < 0 or g < 0:
            raise WorkloadError(f"--ratio {s}:{g}: both parts must be >= 0")
        if s == 0 and g == 0:
            raise WorkloadError("--ratio 0:0 issues no request")
        for p in self.key_pattern:
            if p not in PATTERNS:
                raise WorkloadError(f"--key-pattern: unknown pattern {p!r} (one of R, S, G, Z, P)")
        if self.key_minimum < 0:
            raise WorkloadError(f"--key-minimum {self.key_minimum} is negative")
        if self.key_minimum > self.key_maximum:
            raise WorkloadError(
                f"--key-minimum {self.key_minimum} is above --key-maximum {self.key_maximum}"
            )
        if self.key_stddev is not None and not self.key_stddev > 0:
            raise WorkloadError(f"--key-stddev must be > 0, not {self.key_stddev:g}")
        if self.key_median is not None and not (
            self.key_minimum <= self.key_median <= self.key_maximum
        ):
            raise WorkloadError(
                f"--key-median {self.key_median:g} is outside "
                f"[{self.key_minimum}, {self.key_maximum}]"
            )
        if not 0 < self.key_zipf_exp < 5:
            raise WorkloadError(f"--key-zipf-exp must be in (0, 5), not {self.key_zipf_exp:g}")
        if self.data_size < 1:
            raise WorkloadError(f"--data-size must be >= 1, not {self.data_size}")
        if self.data_size_range is not None:
            lo, hi = self.data_size_range
            if lo < 1 or lo > hi:
                raise WorkloadError(f"--data-size-range {lo}-{hi}: need 1 <= min <= max")
        if self.data_size_list is not None:
            if not self.data_size_list:
                raise WorkloadError("--data-size-list is empty")
            for size, weight in self.data_size_list:
                if size < 1 or weight < 1:
                    raise WorkloadError(
                        f"--data-size-list {size}:{weight}: sizes and weights must be >= 1"
                    )
        if self.data_size_pattern not in ("R", "S"):
            raise WorkloadError(
                f"--data-size-pattern: unknown pattern {self.data_size_pattern!r} (R or S)"
            )
        if not 1 <= self.threads <= 256:
            raise WorkloadError(f"--threads must be in 1..256, not {self.threads}")
        if self.requests is not None and self.requests < 1:
            raise WorkloadError(f"--requests must be >= 1, not {self.requests}")
        if self.test_time is not None and not self.test_time > 0:
            raise WorkloadError(f"--test-time must be > 0 seconds, not {self.test_time:g}")
        lo, hi = self.expiry_range
        if lo < 0 or lo > hi:
            raise WorkloadError(f"--expiry-range {lo}-{hi}: need 0 <= min <= max")
        if "P" in self.key_pattern and self.key_count < self.threads:
            raise WorkloadError(
                f"--key-pattern P needs at least one key per thread ({self.key_count} keys, "
                f"{self.threads} threads)"
            )

    @property
    def key_count(self) -> int:
        return self.key_maximum - self.key_minimum + 1

    @property
    def max_data_size(self) -> int:
        if self.data_size_range is not None:
            return self.data_size_range[1]
        if self.data_size_list is not None:
            return max(size for size, _ in self.data_size_list)
        return self.data_size
