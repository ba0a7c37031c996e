/*
 * libmemkind::fixed::allocator<T>: a C++ allocator over a caller-provided memory area (a fixed
 * kind), usable with STL containers. Header-only, over memkind.h (link with -ltiercache). The
 * constructor throws std::runtime_error when the area cannot hold a kind; copies and rebound
 * copies share the kind, destroyed with the last of them (the area itself stays the caller's).
 * allocate throws std::bad_alloc when the area is full.
 */
#pragma once

#include <cstddef>
#include <limits>
#include <memory>
#include <new>
#include <stdexcept>
#include <string>
#include <utility>

#include "memkind.h"
#include "memkind_allocator_base.h"
#include "pmem_allocator.h" /* detail::owned_kind, own, kind_error */

namespace libmemkind {
namespace fixed {

template <typename T> class allocator : public tiercache::detail::allocator_base<T> {
  public:
    using propagate_on_container_copy_assignment = std::true_type;
    using propagate_on_container_move_assignment = std::true_type;
    using propagate_on_container_swap = std::true_type;
    template <class U> struct rebind { using other = allocator<U>; };

    allocator(void *addr, std::size_t size) : kind_(create(addr, size)) {}
    template <typename U> allocator(const allocator<U> &other) noexcept : kind_(other.kind_) {}
    template <typename U> allocator(allocator<U> &&other) noexcept : kind_(other.kind_) {}

    T *allocate(std::size_t n) const {
        return tiercache::detail::kind_allocate<T>(kind_->kind, n);
    }
    void deallocate(T *p, std::size_t) const noexcept { memkind_free(kind_->kind, p); }

    template <typename U, typename V>
    friend bool operator==(const allocator<U> &a, const allocator<V> &b) noexcept;
    template <typename U> friend class allocator;

  private:
    static std::shared_ptr<detail::owned_kind> create(void *addr, std::size_t size) {
        memkind_t k = nullptr;
        int err = memkind_create_fixed(addr, size, &k);
        if (err) throw detail::kind_error("fixed::allocator: cannot create the fixed kind", err);
        return detail::own(k);
    }
    std::shared_ptr<detail::owned_kind> kind_;
};

template <typename U, typename V>
bool operator==(const allocator<U> &a, const allocator<V> &b) noexcept {
    return a.kind_->kind == b.kind_->kind;
}
template <typename U, typename V>
bool operator!=(const allocator<U> &a, const allocator<V> &b) noexcept {
    return !(a == b);
}

} // namespace fixed
} // namespace libmemkind
