/* What the daemon and the client agree on: the version and where the daemon
 * listens by default. */
#ifndef CGSTAT_VERSION_H
#define CGSTAT_VERSION_H

#define CGSTAT_VERSION "0.1.0"
#define CGSTAT_DEFAULT_SOCKET "/run/cgstat/cgstat.sock"

#endif
