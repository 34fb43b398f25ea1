/* The C side of the FFI call benchmark: linked statically into the bench (direct calls)
 * and built as a shared object (opened by ffi-core at run time). */
#include <stddef.h>
#include <stdint.h>

int add(int a, int b) { return a + b; }

double addd(double a, double b) { return a + b; }

int64_t sum(const int32_t *values, size_t n) {
    int64_t total = 0;
    for (size_t i = 0; i < n; i++) total += values[i];
    return total;
}

/* qsort comparator over int32_t, the C baseline for the callback workload. */
int cmp_i32(const void *a, const void *b) {
    int32_t x = *(const int32_t *)a, y = *(const int32_t *)b;
    return (x > y) - (x < y);
}
