#include <stdint.h>
#include <string.h>
#include <time.h>
#include <event2/event.h>
#include "evlog.h"
#include "log.h"

static uint64_t window_start_ns;
static unsigned in_window, dropped;

static uint64_t now_ns(void)
{
	struct timespec ts;

	clock_gettime(CLOCK_MONOTONIC, &ts);
	return (uint64_t)ts.tv_sec * 1000000000ULL + ts.tv_nsec;
}

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
	now = now_ns();
	if (now - window_start_ns >= 1000000000ULL) {
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

void evlog_init(void)
{
	event_set_log_callback(evlog_print);
}
