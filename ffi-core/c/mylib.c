/* The custom library of the MicroPython FFI guide (Example 5). */
#include <stddef.h>
#include <stdint.h>

int64_t array_sum(const int32_t *arr, size_t len) {
    int64_t sum = 0;
    for (size_t i = 0; i < len; i++) {
        sum += arr[i];
    }
    return sum;
}

void array_multiply(int32_t *arr, size_t len, int32_t factor) {
    for (size_t i = 0; i < len; i++) {
        arr[i] *= factor;
    }
}
