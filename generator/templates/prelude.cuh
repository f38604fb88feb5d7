// akcuda prelude: the types and helpers every generated kernel relies on.
#ifdef __CUDACC_RTC__
typedef signed char int8_t;
typedef unsigned char uint8_t;
typedef short int16_t;
typedef unsigned short uint16_t;
typedef int int32_t;
typedef unsigned int uint32_t;
typedef long long int64_t;
typedef unsigned long long uint64_t;
#endif

// The C kernels are templates instantiated for signed and unsigned index types alike, so a
// sign test that is vacuous for one instantiation is faithful to the source, not a mistake.
#ifdef __CUDACC_RTC__
#pragma nv_diag_suppress 186
#pragma nv_diag_suppress 68
#pragma nv_diag_suppress 177  // some C kernels declare locals they never use
#endif

#ifndef AKC_STORE
#define AKC_STORE(place) (place)
#endif

#define kSliceNone ((int64_t)9223372036854775807LL)
#define AKC_INT64_MIN (-9223372036854775807LL - 1)
#define AKC_INT64_MAX 9223372036854775807LL
#define AKC_NO_ERROR ((int64_t)9223372036854775807LL)

// Error record, one per plan run: [iteration, step, message, identity, attempt, line, first].
// Parallel steps keep the first failing iteration in sequential order with atomicMin; the
// executor then re-runs that one iteration with `direct` set to fill in the rest. Within one
// step every failing thread writes the same step number, so that write races harmlessly.
__device__ inline void akc_fail(int64_t* err, int64_t step, int64_t tid, bool direct,
                                int64_t message, int64_t identity, int64_t attempt, int64_t line) {
  if (direct) {
    err[0] = tid; err[1] = step; err[2] = message; err[3] = identity; err[4] = attempt; err[5] = line;
  } else {
    atomicMin((long long*)&err[0], (long long)tid);
    err[1] = step;
  }
}

// A count launch notes the first failing iteration in sequential order; its fill launch then
// stops there, as the C loop does, and that iteration reports the failure itself.
__device__ inline void akc_note_failure(int64_t* err, int64_t tid) {
  atomicMin((long long*)&err[6], (long long)tid);
}

template <typename T> __device__ inline T akc_zero_of(const T*) { return T(); }

template <typename T> __device__ inline T akc_min(T a, T b) { return b < a ? b : a; }
template <typename T> __device__ inline T akc_max(T a, T b) { return a < b ? b : a; }

__device__ inline void akc_memset(void* dst, int value, size_t bytes) {
  unsigned char* d = (unsigned char*)dst;
  for (size_t k = 0; k < bytes; k++) d[k] = (unsigned char)value;
}

__device__ inline void akc_memcpy(void* dst, const void* src, size_t bytes) {
  unsigned char* d = (unsigned char*)dst;
  const unsigned char* s = (const unsigned char*)src;
  for (size_t k = 0; k < bytes; k++) d[k] = s[k];
}

// Top-level locals live in a buffer of 8-byte slots between the launches of a plan.
template <typename T> __device__ inline void akc_load(T* local, const int64_t* slot) {
  akc_memcpy(local, slot, sizeof(T));
}
template <typename T> __device__ inline void akc_save(int64_t* slot, const T* local) {
  akc_memcpy(slot, local, sizeof(T));
}

template <typename T, typename V>
__device__ inline void akc_iota(T* first, T* last, V value) {
  for (; first != last; ++first, ++value) *first = (T)value;
}
