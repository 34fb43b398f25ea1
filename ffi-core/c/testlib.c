/* Helpers for ffi-core's tests: callbacks with float arguments and returns, callbacks
 * from several threads, globals of every kind, strings in and out, many arguments. */
#include <pthread.h>
#include <stddef.h>
#include <stdint.h>
#include <string.h>

/* Callbacks with floating-point arguments and returns. */
double apply_dd(double (*f)(double, double), double a, double b) { return f(a, b); }
float apply_ff(float (*f)(float, float), float a, float b) { return f(a, b); }
double apply_di(double (*f)(double, int), double a, int b) { return f(a, b); }
/* Every integer width through a callback: the callback returns the sum it sees. */
int64_t apply_ints(int64_t (*f)(int8_t, uint8_t, int16_t, uint16_t, int32_t, uint32_t, int64_t, uint64_t)) {
    return f(-1, 255, -300, 65535, -70000, 4000000000u, -5000000000LL, 18446744073709551615ULL);
}
/* Calls an int(int) callback n times, returning the sum of its results. */
int64_t call_n(int (*f)(int), int n) {
    int64_t sum = 0;
    for (int i = 0; i < n; i++) sum += f(i);
    return sum;
}
/* Calls a char* callback and returns what it returned (used to check NULL returns). */
const char *call_str(const char *(*f)(const char *), const char *s) { return f(s); }
/* Calls a void callback. */
void call_void(void (*f)(int), int x) { f(x); }

struct job { int (*f)(int); int iterations; };
static void *worker(void *arg) {
    struct job *job = arg;
    for (int i = 0; i < job->iterations; i++) job->f(i);
    return NULL;
}
/* Calls f(i) `iterations` times from each of `threads` threads at once. */
int run_threads(int (*f)(int), int threads, int iterations) {
    pthread_t ids[64];
    struct job job = { f, iterations };
    if (threads > 64) return -1;
    for (int i = 0; i < threads; i++)
        if (pthread_create(&ids[i], NULL, worker, &job) != 0) return -1;
    for (int i = 0; i < threads; i++) pthread_join(ids[i], NULL);
    return 0;
}

/* Globals for lib.var. */
int8_t g_i8 = -5;
uint16_t g_u16 = 65535;
int g_int = 42;
unsigned int g_uint = 4000000000u;
/* Wider than 32 bits: on ILP32 targets (armv7) the cast keeps the low 32 bits, as C does. */
long g_long = (long)-1234567890123LL;
uint64_t g_u64 = 18446744073709551615ULL;
float g_float = 1.5f;
double g_double = 2.25;
const char *g_str = "hello from C";
const char *g_null_str = NULL;
void *g_ptr = NULL;

/* Plain `char` is signed on x86 and unsigned on ARM: the type code, not the platform,
   must decide how 0xff reads. */
char g_char_ff = (char)0xff;
char char_ff(void) { return (char)0xff; }
int char_is_signed(void) { return (char)-1 < 0; }

/* Strings in and out. */
const char *maybe_null(int give) { return give ? "not null" : NULL; }
const char *echo(const char *s) { return s; }
size_t count_bytes(const unsigned char *p, size_t n, unsigned char b) {
    size_t c = 0;
    for (size_t i = 0; i < n; i++) c += p[i] == b;
    return c;
}
/* Memory for as_bytes views. */
static unsigned char shared_buf[16] = "0123456789abcde";
unsigned char *get_shared(void) { return shared_buf; }
int shared_at(int i) { return shared_buf[i]; }

/* Many arguments: beyond the 16 inline slots. */
int64_t sum20(int a0, int a1, int a2, int a3, int a4, int a5, int a6, int a7, int a8, int a9,
              int a10, int a11, int a12, int a13, int a14, int a15, int a16, int a17, int a18,
              int a19) {
    return (int64_t)a0 + a1 + a2 + a3 + a4 + a5 + a6 + a7 + a8 + a9 + a10 + a11 + a12 + a13 +
           a14 + a15 + a16 + a17 + a18 + a19;
}
/* Concatenated length of many strings (tests the stack arena and its heap spill). */
size_t total_len(const char *a, const char *b, const char *c, const char *d) {
    return strlen(a) + strlen(b) + strlen(c) + strlen(d);
}
/* Mixed float/int argument order, and every float width in one call. */
double mixed(int a, double b, float c, long d, unsigned char e) { return a + b + c + d + e; }
float ret_float(void) { return 1.25f; }
int8_t ret_neg8(void) { return -7; }
uint8_t ret_u8_max(void) { return 255; }

/* An absolute symbol whose address is 0: dlsym finds it and returns NULL. */
__asm__(".globl null_symbol\n.set null_symbol, 0\n");

/* Callbacks of the register path's shapes: a float return from integer arguments, and
 * five narrow and wide integer-class arguments (the most a trampoline forwards). */
float apply_ii_f(float (*f)(int, int), int a, int b) { return f(a, b); }
uint64_t apply_five(uint8_t (*f)(int8_t, uint16_t, int32_t, int64_t, const char *)) {
    return f(-2, 65535, -70000, -5000000000LL, "five");
}
