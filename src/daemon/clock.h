/* keepwatch: the monotonic clock keepwatchd reads in one place (its loop) and passes down:
 * no decision module reads the time itself. */
#ifndef KEEPWATCH_CLOCK_H
#define KEEPWATCH_CLOCK_H

#include <stdint.h>
#include <time.h>

static inline uint64_t kw_now_ms(void)
{
	struct timespec ts;

	clock_gettime(CLOCK_MONOTONIC, &ts);
	return (uint64_t)ts.tv_sec * 1000u + (uint64_t)ts.tv_nsec / 1000000u;
}

static inline uint64_t kw_now_us(void)
{
	struct timespec ts;

	clock_gettime(CLOCK_MONOTONIC, &ts);
	return (uint64_t)ts.tv_sec * 1000000u + (uint64_t)ts.tv_nsec / 1000u;
}

#endif
