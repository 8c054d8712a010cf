/*
 * device.c - CUDA device discovery for the provider registry. Compiled only when the CUDA
 * toolkit is found; on a machine without a driver or GPU it reports why instead of failing.
 */
#include <stdio.h>

#include <cublasLt.h>
#include <cuda_runtime_api.h>

#include "core/status.h"
#include "providers/provider.h"

int onyx_cuda_device_count(char *why, size_t why_size) {
    int count = 0;
    cudaError_t err = cudaGetDeviceCount(&count);
    if (err != cudaSuccess) {
        snprintf(why, why_size, "no usable CUDA device: %s", cudaGetErrorString(err));
        return 0;
    }
    if (count == 0) snprintf(why, why_size, "no CUDA device found");
    return count;
}

static void version_text(int v, char *out, size_t size) {
    if (v <= 0) snprintf(out, size, "none");
    else snprintf(out, size, "%d.%d", v / 1000, v % 1000 / 10);
}

void onyx_cuda_describe(char *buf, size_t size) {
    int runtime = 0, driver = 0;
    (void)cudaRuntimeGetVersion(&runtime);
    (void)cudaDriverGetVersion(&driver); /* 0 when no driver is installed */
    (void)cudaGetLastError();
    char rt[32], dr[32];
    version_text(runtime, rt, sizeof rt);
    version_text(driver, dr, sizeof dr);
    size_t lt = cublasLtGetVersion(); /* major * 10000 + minor * 100 + patch */
    int used = snprintf(buf, size, "CUDA runtime %s, driver %s, cuBLASLt %zu.%zu.%zu", rt, dr, lt / 10000, lt / 100 % 100,
                        lt % 100);
    if (used < 0 || (size_t)used >= size) return;
    char why[200] = "";
    int count = onyx_cuda_device_count(why, sizeof why);
    if (count <= 0) {
        snprintf(buf + used, size - (size_t)used, "; %s", why);
        return;
    }
    struct cudaDeviceProp prop;
    if (cudaGetDeviceProperties(&prop, 0) != cudaSuccess) {
        (void)cudaGetLastError();
        snprintf(buf + used, size - (size_t)used, "; %d device%s", count, count == 1 ? "" : "s");
        return;
    }
    snprintf(buf + used, size - (size_t)used, "; %d device%s, 0: %s (sm_%d%d, %.1f GiB)", count, count == 1 ? "" : "s",
             prop.name, prop.major, prop.minor, (double)prop.totalGlobalMem / 1073741824.0);
}

onyx_status onyx_cuda_copy_to_host(void *dst, const void *src, size_t bytes) {
    if (!bytes) return ONYX_OK;
    cudaError_t err = cudaMemcpy(dst, src, bytes, cudaMemcpyDeviceToHost);
    if (err != cudaSuccess) {
        (void)cudaGetLastError();
        return onyx_error(ONYX_ERR_RUNTIME, "cuda: copying %zu bytes to the host: %s", bytes, cudaGetErrorString(err));
    }
    return ONYX_OK;
}
