/*
 * device.c - CUDA device discovery for the provider registry. Compiled only when the CUDA
 * toolkit is found; on a machine without a driver or GPU it reports why instead of failing.
 */
#include <stdio.h>

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

onyx_status onyx_cuda_copy_to_host(void *dst, const void *src, size_t bytes) {
    if (!bytes) return ONYX_OK;
    cudaError_t err = cudaMemcpy(dst, src, bytes, cudaMemcpyDeviceToHost);
    if (err != cudaSuccess) {
        (void)cudaGetLastError();
        return onyx_error(ONYX_ERR_RUNTIME, "cuda: copying %zu bytes to the host: %s", bytes, cudaGetErrorString(err));
    }
    return ONYX_OK;
}
