/*
 * What the memkind-compatible C++ allocators (memkind_allocator.h, pmem_allocator.h,
 * fixed_allocator.h, hbw_allocator.h) share: the standard member types and members, and the
 * allocation of n objects. Not part of memkind's API.
 */
#pragma once

#include <cstddef>
#include <limits>
#include <memory>
#include <new>
#include <utility>

#include "memkind.h"

namespace tiercache {
namespace detail {

/* The members every allocator has whatever its memory; the allocators derive from it. */
template <typename T> struct allocator_base {
    using value_type = T;
    using pointer = T *;
    using const_pointer = const T *;
    using reference = T &;
    using const_reference = const T &;
    using size_type = std::size_t;
    using difference_type = std::ptrdiff_t;

    T *address(T &x) const noexcept { return std::addressof(x); }
    const T *address(const T &x) const noexcept { return std::addressof(x); }
    std::size_t max_size() const noexcept {
        return std::numeric_limits<std::size_t>::max() / sizeof(T);
    }
    template <class U, class... Args> void construct(U *p, Args &&...args) {
        ::new ((void *)p) U(std::forward<Args>(args)...);
    }
    template <class U> void destroy(U *p) { p->~U(); }
};

/*
 * n objects of T from malloc_fn(bytes), or from memalign_fn(&p, alignof(T), bytes) (0 on
 * success) when T is over-aligned. Never returns NULL: throws std::bad_alloc on failure and, as
 * memkind's allocators do, for n 0 and for n above max_size().
 */
template <typename T, typename Malloc, typename Memalign>
T *allocate_objects(std::size_t n, Malloc malloc_fn, Memalign memalign_fn) {
    if (n == 0 || n > std::numeric_limits<std::size_t>::max() / sizeof(T)) throw std::bad_alloc();
    std::size_t bytes = n * sizeof(T);
    void *p = nullptr;
    if (alignof(T) > alignof(std::max_align_t)) {
        if (memalign_fn(&p, alignof(T), bytes) != 0) p = nullptr;
    } else {
        p = malloc_fn(bytes);
    }
    if (!p) throw std::bad_alloc();
    return static_cast<T *>(p);
}

/* allocate_objects from a memkind kind. */
template <typename T> T *kind_allocate(memkind_t kind, std::size_t n) {
    return allocate_objects<T>(
        n, [kind](std::size_t bytes) { return memkind_malloc(kind, bytes); },
        [kind](void **p, std::size_t align, std::size_t bytes) {
            return memkind_posix_memalign(kind, p, align, bytes);
        });
}

} // namespace detail
} // namespace tiercache
