/* SPDX-License-Identifier: GPL-2.0 */
/*
 * Patterns of cgroup paths, for the cgroups cgstatd attaches by itself (--attach-under). A
 * pattern is a path relative to the cgroup2 root whose components may hold '*' (any run of
 * characters within one component) or be exactly "**" (any number of components, zero or more;
 * a trailing "**" matches everything below, not the cgroup above it, as in .gitignore).
 * A '*' is always a wildcard: there is no escape.
 * Pure functions: no file system access, no allocation.
 */
// Examples (in a line comment: a slash before a star would open a block comment):
//   nomad.slice/*.scope     the children of nomad.slice whose names end in .scope
//   kubepods.slice/**       every cgroup below kubepods.slice, at any depth
//   a/**/b                  a/b, a/x/b, a/x/y/b
#ifndef CGSTAT_CG_PATTERN_H
#define CGSTAT_CG_PATTERN_H

#include <stdbool.h>
#include <stddef.h>

/* Longest pattern, its NUL included. */
#define CG_PATTERN_MAX 256
/* Most components in a pattern. */
#define CG_PATTERN_MAX_COMPONENTS 32

/*
 * Checks a pattern and writes its normalised form into ret: a leading '/', no empty, duplicate
 * or trailing slashes, consecutive "**" components merged into one. -EINVAL: empty (or only
 * slashes), a "." or ".." component, "**" inside a longer component, or more than
 * CG_PATTERN_MAX_COMPONENTS components. -ENAMETOOLONG: pat (or its normalised form) does not
 * fit in CG_PATTERN_MAX bytes, or a component is longer than 255 bytes; also when ret is too small.
 */
int cg_pattern_normalize(const char *pat, char *ret, size_t len);

/* Whether the cgroup at path (relative to the root, normalised as cg_normalize() writes it:
 * "/a/b"; "/" is the root, which no pattern matches) matches the normalised pattern pat. */
bool cg_pattern_match(const char *pat, const char *path);

/* Whether a cgroup below path (not path itself) may match pat: false only when none can, so a
 * walk of the tree can skip what is below path. */
bool cg_pattern_may_match_below(const char *pat, const char *path);

#endif /* CGSTAT_CG_PATTERN_H */
