/* A native thread that flips Panda3D's frame at a set CLOCK_MONOTONIC time (issue 17, vb).
 *
 * Held in Python, a frame is flipped when the UI's main thread gets both a CPU and the GIL after
 * its sleep: any other Python thread of the UI that holds the GIL (and is preempted while it
 * does) makes the flip late, and each millisecond late is v x 1 ms of visual-belt error. This
 * thread needs neither: it sleeps to the absolute time with clock_nanosleep and calls
 * GraphicsEngine::flip_frame() itself. Built by tools/bootstrap.sh; engine/render/timed_flip.py
 * loads it with ctypes and falls back to the Python hold when it is absent.
 *
 * One flip is armed at a time: tf_arm(engine, flip, at_s) then tf_wait(timeout_s), which returns
 * the monotonic time right after the flip (the frame's presentation), or -1 on timeout.
 */
#define _GNU_SOURCE
#include <errno.h>
#include <pthread.h>
#include <time.h>
#include <unistd.h>

typedef void (*flip_fn)(void *engine);

static pthread_mutex_t lock = PTHREAD_MUTEX_INITIALIZER;
static pthread_cond_t changed = PTHREAD_COND_INITIALIZER;
static flip_fn flip;
static void *engine;
static struct timespec at;
static enum { IDLE, ARMED, FLIPPED } state = IDLE;
static double flipped_s;
static long thread_id;

static double monotonic_s(void) {
    struct timespec now;
    clock_gettime(CLOCK_MONOTONIC, &now);
    return (double)now.tv_sec + (double)now.tv_nsec * 1e-9;
}

static struct timespec to_timespec(double t_s) {
    struct timespec ts;
    ts.tv_sec = (time_t)t_s;
    ts.tv_nsec = (long)((t_s - (double)ts.tv_sec) * 1e9);
    if (ts.tv_nsec >= 1000000000L) {
        ts.tv_sec += 1;
        ts.tv_nsec -= 1000000000L;
    }
    if (ts.tv_nsec < 0) ts.tv_nsec = 0;
    return ts;
}

static void *flip_loop(void *unused) {
    (void)unused;
    pthread_mutex_lock(&lock);
    thread_id = (long)gettid();
    pthread_cond_broadcast(&changed);
    for (;;) {
        while (state != ARMED) pthread_cond_wait(&changed, &lock);
        struct timespec when = at;
        pthread_mutex_unlock(&lock);
        while (clock_nanosleep(CLOCK_MONOTONIC, TIMER_ABSTIME, &when, NULL) == EINTR) {
        }
        flip(engine);
        double done_s = monotonic_s();
        pthread_mutex_lock(&lock);
        flipped_s = done_s;
        state = FLIPPED;
        pthread_cond_broadcast(&changed);
    }
    return NULL;
}

/* Start the thread (once); returns its kernel thread id (for its priority), or -1. */
long tf_start(void) {
    pthread_mutex_lock(&lock);
    if (thread_id == 0) {
        pthread_t thread;
        if (pthread_create(&thread, NULL, flip_loop, NULL) != 0) {
            pthread_mutex_unlock(&lock);
            return -1;
        }
        pthread_detach(thread);
        while (thread_id == 0) pthread_cond_wait(&changed, &lock);
    }
    long id = thread_id;
    pthread_mutex_unlock(&lock);
    return id;
}

/* Arm one flip of `engine_ptr` by `flip_ptr` at monotonic time at_s (at once if it has passed).
   Returns 0, or -1 while a flip is still armed (the caller waits for it first). */
int tf_arm(void *engine_ptr, void *flip_ptr, double at_s) {
    pthread_mutex_lock(&lock);
    if (state == ARMED) {
        pthread_mutex_unlock(&lock);
        return -1;
    }
    engine = engine_ptr;
    flip = (flip_fn)flip_ptr;
    at = to_timespec(at_s);
    state = ARMED;
    pthread_cond_broadcast(&changed);
    pthread_mutex_unlock(&lock);
    return 0;
}

/* Wait up to timeout_s for the armed flip; returns its time (and disarms), 0 when none was
   armed, -1 on timeout (still armed). */
double tf_wait(double timeout_s) {
    struct timespec deadline;
    clock_gettime(CLOCK_REALTIME, &deadline);
    deadline = to_timespec((double)deadline.tv_sec + (double)deadline.tv_nsec * 1e-9 + timeout_s);
    pthread_mutex_lock(&lock);
    while (state == ARMED) {
        if (pthread_cond_timedwait(&changed, &lock, &deadline) == ETIMEDOUT) break;
    }
    double result = state == FLIPPED ? flipped_s : (state == IDLE ? 0.0 : -1.0);
    if (state == FLIPPED) state = IDLE;
    pthread_mutex_unlock(&lock);
    return result;
}
