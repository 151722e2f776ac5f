// The command-line side of an option table (salm/core/option_table.hpp): one
// Boost.Program_options entry per field, with its default, alias and help, and the parsed values
// read back into the struct. INI files and SALM_* variables go through the same description.
#pragma once

#include <optional>
#include <string>
#include <type_traits>
#include <vector>

#include <boost/make_shared.hpp>
#include <fmt/format.h>

#include "options.hpp"
#include "salm/core/option_table.hpp"

namespace salm::cli {
namespace detail {

template <class T>
struct is_optional : std::false_type {};
template <class T>
struct is_optional<std::optional<T>> : std::true_type {};
template <class T>
inline constexpr bool is_string_list = std::is_same_v<T, std::vector<std::string>>;

template <class T>
po::value_semantic* semantic(const opt::Field<T>& f) {
  using V = typename opt::Field<T>::value_type;
  if constexpr (std::is_same_v<V, bool>) {
    return po::bool_switch();
  } else if constexpr (std::is_enum_v<V>) {
    return po::value<std::string>()->default_value(opt::to_string(f.value));
  } else if constexpr (is_optional<V>::value) {
    using I = typename V::value_type;
    if constexpr (std::is_enum_v<I>) return po::value<std::string>();
    else return po::value<I>();
  } else if constexpr (is_string_list<V>) {
    return po::value<V>()->composing();
  } else if constexpr (std::is_same_v<V, std::string>) {
    auto* s = po::value<std::string>();
    return f.required_ ? s->required() : s->default_value(f.value);
  } else {  // a number, shown in the user's units
    auto* s = po::value<V>();
    if (f.required_) return s->required();
    if constexpr (std::is_floating_point_v<V>)
      return s->default_value(static_cast<V>(f.value * f.scale), fmt::format("{:g}", f.value * f.scale));
    else
      return s->default_value(f.value);
  }
}

}  // namespace detail

/// Adds one option per field of `defaults`' table (their defaults are its values).
template <class Options>
void add_fields(po::options_description& d, const Options& defaults = Options{}) {
  Options::fields(defaults, [&](const auto& f) {
    std::string name = f.short_name ? fmt::format("{},{}", f.name, f.short_name) : std::string(f.name);
    d.add(boost::make_shared<po::option_description>(name.c_str(), detail::semantic(f), f.help));
  });
}

/// Reads the parsed values of a table's options into `o` (a default stays the struct's own value,
/// exactly: 8/255 is not turned into 8 and back).
template <class Options>
void read_fields(const po::variables_map& vm, Options& o) {
  Options::fields(o, [&](auto&& f) {
    using V = typename std::remove_reference_t<decltype(f)>::value_type;
    const auto& e = vm[f.name];
    if (e.empty() || e.defaulted()) return;
    if constexpr (std::is_enum_v<V>) {
      f.value = opt::parse<V>(f.name, e.template as<std::string>());
    } else if constexpr (detail::is_optional<V>::value) {
      using I = typename V::value_type;
      if constexpr (std::is_enum_v<I>) f.value = opt::parse<I>(f.name, e.template as<std::string>());
      else if constexpr (std::is_floating_point_v<I>) f.value = e.template as<I>() / f.scale;
      else f.value = e.template as<I>();
    } else if constexpr (std::is_floating_point_v<V>) {
      f.value = e.template as<V>() / f.scale;
    } else if constexpr (detail::is_string_list<V>) {
      f.value = e.template as<V>();
    } else {
      f.value = e.template as<V>();
    }
  });
}

}  // namespace salm::cli
