/* Start-up probe: does nothing but print one line. */
#include <stdio.h>

int main(void) {
    puts("hello");
    return 0;
}
