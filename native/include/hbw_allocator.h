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
#include "memkind_allocator_base.h"

namespace hbw {

template <class T> class allocator : public tiercache::detail::allocator_base<T> {
  public:
    template <class U> struct rebind { using other = allocator<U>; };

    allocator() noexcept {}
    allocator(const allocator &) noexcept {}
    template <class U> allocator(const allocator<U> &) noexcept {}

    T *allocate(std::size_t n, const void * = nullptr) {
        return tiercache::detail::allocate_objects<T>(
            n, [](std::size_t bytes) { return hbw_malloc(bytes); },
            [](void **p, std::size_t align, std::size_t bytes) {
                return hbw_posix_memalign(p, align, bytes);
            });
    }
    void deallocate(T *p, std::size_t) noexcept { hbw_free(p); }
};

template <class T, class U> bool operator==(const allocator<T> &, const allocator<U> &) noexcept {
    return true;
}
template <class T, class U> bool operator!=(const allocator<T> &, const allocator<U> &) noexcept {
    return false;
}

} // namespace hbw
