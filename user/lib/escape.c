#include <stdbool.h>
#include <string.h>
#include "escape.h"

static size_t two(char c, char out[6])
{
	out[0] = '\\';
	out[1] = c;
	return 2;
}

size_t escape_byte(enum escape_syntax s, unsigned char c, char out[6])
{
	static const char hex[] = "0123456789abcdef";
	bool ctl = c < 0x20 || c == 0x7f;

	if ((c == '"' || c == '\\') && s != ESCAPE_LOGFMT_TAIL)
		return two((char)c, out);
	if (s == ESCAPE_PROM_LABEL) {
		if (c == '\n')
			return two('n', out);
		out[0] = (char)c;
		return 1;
	}
	if (!ctl) {
		out[0] = (char)c;
		return 1;
	}
	switch (c) {
	case '\n': return two('n', out);
	case '\r': return two('r', out);
	case '\t': return two('t', out);
	case '\b':
		if (s == ESCAPE_JSON)
			return two('b', out);
		break;
	case '\f':
		if (s == ESCAPE_JSON)
			return two('f', out);
		break;
	}
	memcpy(out, "\\u00", 4);
	out[4] = hex[c >> 4];
	out[5] = hex[c & 0xf];
	return 6;
}
