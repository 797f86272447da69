#ifndef REEL_COPENBLAS_SHIM_H
#define REEL_COPENBLAS_SHIM_H
#include <cblas.h>
#endif
