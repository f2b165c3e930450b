/* placeholder until the relay lands */
#include <stdio.h>
int main(void) { fputs("keepwatch-relay: not built yet\n", stderr); return 2; }
