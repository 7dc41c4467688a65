/* SPDX-License-Identifier: GPL-2.0 */
/*
 * Human durations for flags, config and API output: "250ms", "1.5s", "2m".
 * Nanoseconds in a uint64_t throughout, so ~584 years is the limit.
 */
#ifndef CGSTAT_DURATION_H
#define CGSTAT_DURATION_H

#include <stddef.h>
#include <stdint.h>

/*
 * Parse a non-negative duration: a decimal number with an optional fraction
 * and a unit (ns, us or µs, ms, s, m, h), e.g. "250ms", "1.5s", "2m"; a bare
 * number means seconds ("2" = 2 s). Units may be chained as in Go
 * ("1h30m"). Fractions below a nanosecond are truncated.
 * Returns 0, -EINVAL on any syntax error (empty, sign, unknown unit,
 * surrounding spaces, trailing garbage) or -ERANGE if it does not fit in
 * uint64 nanoseconds. *ret_ns is written only on success.
 */
int duration_parse(const char *s, uint64_t *ret_ns);

/*
 * Shortest exact rendering, using one unit and never a value below 1 of it:
 * 250ms, 1s, 1.5s, 2m, 1h, 100ns, 1500us -> "1.5ms", 90s -> "90s", 0 -> "0s".
 * On equal length a whole number wins (150s, not 2.5m), then the larger unit.
 * duration_parse() reads every output back to the same value.
 * Returns 0 or -ENOSPC (buf then holds "" if len > 0).
 */
int duration_format(uint64_t ns, char *buf, size_t len);

/* Longest duration_format() output, NUL included. */
#define DURATION_FMT_MAX 32

#endif /* CGSTAT_DURATION_H */
