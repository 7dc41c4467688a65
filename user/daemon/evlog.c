#include <stdbool.h>
#include <stdint.h>
#include <event2/event.h>
#include "evlog.h"
#include "log.h"

static const struct clock *clk = &clock_monotonic;
static uint64_t window_start_ns;
static bool window_open;
static unsigned in_window, dropped;

void evlog_print(int severity, const char *msg)
{
	enum log_level l;
	uint64_t now;

	switch (severity) {
	case EVENT_LOG_DEBUG: l = LOG_DEBUG; break;
	case EVENT_LOG_MSG: l = LOG_INFO; break;
	case EVENT_LOG_WARN: l = LOG_WARN; break;
	default: l = LOG_ERROR; break;
	}
	if (l < log_get_level())
		return;
	now = clock_now(clk);
	if (!window_open || now - window_start_ns >= 1000000000ULL) {
		window_open = true;
		window_start_ns = now;
		in_window = 0;
	}
	if (in_window >= EVLOG_MAX_PER_SEC) {
		dropped++;
		return;
	}
	in_window++;
	/* log_emit quotes and escapes the message: one line whatever it holds. */
	if (dropped)
		log_emit(l, msg, "src=libevent dropped=%u", dropped);
	else
		log_emit(l, msg, "src=libevent");
	dropped = 0;
}

void evlog_init(const struct clock *c)
{
	clk = c;
	window_open = false;
	dropped = 0;
	event_set_log_callback(evlog_print);
}
