/* placeholder until the daemon lands */
#include <stdio.h>
int main(void) { fputs("keepwatchd: not built yet\n", stderr); return 2; }
