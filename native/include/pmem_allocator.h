/*
 * libmemkind::pmem::allocator<T>: a C++ allocator over a file-backed (PMEM) kind, usable with
 * STL containers. Header-only, over memkind.h (link with -ltiercache). The constructor creates
 * the kind (an unlinked file in dir, at most max_size bytes, 0: unlimited) and throws
 * std::runtime_error (with memkind's message) when it cannot; copies and rebound copies share
 * the kind, which is destroyed with the last of them. allocate throws std::bad_alloc when the
 * file is full.
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

namespace libmemkind {

enum class allocation_policy {
    DEFAULT = MEMKIND_MEM_USAGE_POLICY_DEFAULT,
    CONSERVATIVE = MEMKIND_MEM_USAGE_POLICY_CONSERVATIVE,
    MAX
};

namespace detail {
/* Owns a created kind; destroys it when the last allocator lets go. */
class owned_kind {
  public:
    explicit owned_kind(memkind_t k) : kind(k) {}
    ~owned_kind() { memkind_destroy_kind(kind); }
    owned_kind(const owned_kind &) = delete;
    owned_kind &operator=(const owned_kind &) = delete;
    const memkind_t kind;
};

/* Ownership of a just-created kind for an allocator and its copies; the kind is destroyed
 * when that cannot be set up. */
inline std::shared_ptr<owned_kind> own(memkind_t k) {
    try {
        return std::make_shared<owned_kind>(k);
    } catch (...) {
        memkind_destroy_kind(k);
        throw;
    }
}

inline std::runtime_error kind_error(const char *what, int err) {
    char msg[MEMKIND_ERROR_MESSAGE_SIZE];
    memkind_error_message(err, msg, sizeof msg);
    return std::runtime_error(std::string(what) + ": " + msg + " (error " + std::to_string(err) +
                              ")");
}

} // namespace detail

namespace pmem {

template <typename T> class allocator : public tiercache::detail::allocator_base<T> {
  public:
    /* Containers keep the allocator (and so the file) when copied, moved or swapped. */
    using propagate_on_container_copy_assignment = std::true_type;
    using propagate_on_container_move_assignment = std::true_type;
    using propagate_on_container_swap = std::true_type;
    template <class U> struct rebind { using other = allocator<U>; };

    allocator(const char *dir, std::size_t max_size)
        : allocator(dir, max_size, allocation_policy::DEFAULT) {}
    allocator(const std::string &dir, std::size_t max_size)
        : allocator(dir.c_str(), max_size, allocation_policy::DEFAULT) {}
    allocator(const std::string &dir, std::size_t max_size, allocation_policy policy)
        : allocator(dir.c_str(), max_size, policy) {}
    allocator(const char *dir, std::size_t max_size, allocation_policy policy)
        : kind_(create(dir, max_size, policy)) {}
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
    static std::shared_ptr<detail::owned_kind> create(const char *dir, std::size_t max_size,
                                                      allocation_policy policy) {
        if (policy != allocation_policy::DEFAULT && policy != allocation_policy::CONSERVATIVE)
            throw std::runtime_error("pmem::allocator: invalid allocation_policy");
        struct memkind_config *cfg = memkind_config_new();
        if (!cfg) throw std::bad_alloc();
        memkind_config_set_path(cfg, dir);
        memkind_config_set_size(cfg, max_size);
        memkind_config_set_memory_usage_policy(cfg, (memkind_mem_usage_policy)policy);
        memkind_t k = nullptr;
        int err = memkind_create_pmem_with_config(cfg, &k);
        memkind_config_delete(cfg);
        if (err) throw detail::kind_error("pmem::allocator: cannot create the file kind", err);
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

} // namespace pmem
} // namespace libmemkind
