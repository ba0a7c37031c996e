/*
 * hbw::allocator<T>: a C++ allocator over hbw_malloc (high-bandwidth memory under the process's
 * hbw policy; see hbwmalloc.h), usable with STL containers. Header-only (link with
 * -ltiercache). allocate throws std::bad_alloc when the policy cannot supply the memory.
 * All hbw::allocator objects are equal: they draw from the same policy.
 */
#pragma once

#include <cstddef>
#include <limits>
#include <memory>
#include <new>
#include <utility>

#include "hbwmalloc.h"

namespace hbw {

template <class T> class allocator {
public:
    using value_type = T;
    using pointer = T *;
    using const_pointer = const T *;
    using reference = T &;
    using const_reference = const T &;
    using size_type = std::size_t;
    using difference_type = std::ptrdiff_t;
    template <class U> struct rebind {
        using other = allocator<U>;
    };

    allocator() noexcept {}
    allocator(const allocator &) noexcept {}
    template <class U> allocator(const allocator<U> &) noexcept {}

    pointer address(reference x) const noexcept { return std::addressof(x); }
    const_pointer address(const_reference x) const noexcept { return std::addressof(x); }

    pointer allocate(size_type n, const void * = nullptr) {
        if (n > max_size()) throw std::bad_alloc();
        size_type bytes = n ? n * sizeof(T) : 1;
        void *p = nullptr;
        if (alignof(T) > alignof(std::max_align_t)) {
            if (hbw_posix_memalign(&p, alignof(T), bytes) != 0) p = nullptr;
        } else {
            p = hbw_malloc(bytes);
        }
        if (!p) throw std::bad_alloc();
        return static_cast<pointer>(p);
    }
    void deallocate(pointer p, size_type) noexcept { hbw_free(p); }
    size_type max_size() const noexcept {
        return std::numeric_limits<size_type>::max() / sizeof(T);
    }
    template <class U, class... Args> void construct(U *p, Args &&...args) {
        ::new ((void *)p) U(std::forward<Args>(args)...);
    }
    template <class U> void destroy(U *p) { p->~U(); }
};

template <class T, class U> bool operator==(const allocator<T> &, const allocator<U> &) noexcept {
    return true;
}
template <class T, class U> bool operator!=(const allocator<T> &, const allocator<U> &) noexcept {
    return false;
}

} // namespace hbw
