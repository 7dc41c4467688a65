/* The one place where strings are escaped: the rules of each syntax the
 * daemon writes (JSON strings, logfmt values, Prometheus label values),
 * byte by byte. UTF-8 handling stays with the JSON writer, which must
 * replace invalid sequences. */
#ifndef CGSTAT_ESCAPE_H
#define CGSTAT_ESCAPE_H

#include <stddef.h>

enum escape_syntax {
	ESCAPE_JSON, /* '"' '\' and control bytes; \b \f \n \r \t, else \u00XX */
	ESCAPE_LOGFMT, /* a quoted logfmt value: '"' '\' and control bytes (and DEL) */
	ESCAPE_LOGFMT_TAIL, /* a verbatim tail kept on one line: control bytes only */
	ESCAPE_PROM_LABEL, /* exposition format: only '\' '"' and newline */
};

/* The escaped form of c in syntax s into out (no NUL), its length; 1 with
 * out[0] == c when c stands as it is. */
size_t escape_byte(enum escape_syntax s, unsigned char c, char out[6]);

#endif
