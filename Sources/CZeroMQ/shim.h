#ifndef REEL_CZEROMQ_SHIM_H
#define REEL_CZEROMQ_SHIM_H
#include <zmq.h>
#include <errno.h>

/// errno as libzmq set it on this thread (zmq_errno is the portable way to read it).
static inline int reel_zmq_errno(void) { return zmq_errno(); }
static inline int reel_zmq_eagain(void) { return EAGAIN; }
static inline int reel_zmq_eintr(void) { return EINTR; }
static inline int reel_zmq_eterm(void) { return ETERM; }
static inline int reel_zmq_ehostunreach(void) { return EHOSTUNREACH; }
static inline int reel_zmq_enotsock(void) { return ENOTSOCK; }
static inline int reel_zmq_version_major(void) { return ZMQ_VERSION_MAJOR; }
static inline int reel_zmq_version_minor(void) { return ZMQ_VERSION_MINOR; }
#endif
