/* keepwatch tests: prints CLOCK_MONOTONIC in milliseconds, the clock the syslog sink and
 * the test peers stamp their lines with; a process start costs ~1 ms, python's ~20 ms. */
#include <stdio.h>
#include <time.h>

int main(void)
{
	struct timespec ts;

	clock_gettime(CLOCK_MONOTONIC, &ts);
	printf("%lld\n", (long long)ts.tv_sec * 1000 + ts.tv_nsec / 1000000);
	return 0;
}
