/// Options described once. An options struct lists its fields in one table,
///
///   template <class Self, class V> static void fields(Self& o, V&& v) {
///     v(opt::field("k", o.k, "percent of pixels perturbed per image").above(0).at_most(100));
///     v(opt::field("epsilon", o.epsilon, "L-inf budget in 1/255 units").unit(255).above(0).at_most(255));
///     ...
///   }
///
/// and every consumer walks that table: the command line, INI files and the environment
/// (cli/option_fields.hpp builds the Boost.Program_options description from it and reads the values
/// back), validation (opt::validate), the checkpoint fingerprint, the noise file's attributes and
/// the JSON reports (opt::values). Adding an option is one line here plus its use.
///
/// Field types: bool, int, std::int64_t, std::uint64_t, double, std::string, an enum with
/// opt::EnumNames, std::optional of one of these (an option that may be absent), or
/// std::vector<std::string> (a repeatable option).
#pragma once

#include <algorithm>
#include <cmath>
#include <cstdint>
#include <optional>
#include <string>
#include <string_view>
#include <type_traits>
#include <utility>
#include <variant>
#include <vector>

#include <fmt/format.h>

#include "salm/core/error.hpp"

namespace salm::opt {

// ---- enums --------------------------------------------------------------------------------------

/// Specialise for an enum E: `static const std::vector<std::pair<E, const char*>>& values();`
/// in help order. The names are what users type and what files store.
template <class E>
struct EnumNames;

template <class E, class = void>
struct is_named_enum : std::false_type {};
template <class E>
struct is_named_enum<E, std::void_t<decltype(EnumNames<E>::values())>> : std::true_type {};

template <class E>
std::string to_string(E v) {
  for (const auto& [e, n] : EnumNames<E>::values())
    if (e == v) return n;
  return "?";
}

/// "salm, em, tap, sp, random"
template <class E>
std::string choices() {
  std::string s;
  for (const auto& [e, n] : EnumNames<E>::values()) s += (s.empty() ? "" : ", ") + std::string(n);
  return s;
}

/// The value named `text`; UsageError naming the option and the choices otherwise.
template <class E>
E parse(std::string_view option, const std::string& text) {
  for (const auto& [e, n] : EnumNames<E>::values())
    if (text == n) return e;
  throw UsageError(fmt::format("--{}: unknown value '{}' (one of: {})", option, text, choices<E>()));
}

// ---- fields -------------------------------------------------------------------------------------

/// One option of a table: its long name (also the INI key, SALM_<NAME> in the environment and,
/// with '-' as '_', the attribute and JSON key), the struct member it sets, its help text and
/// its domain.
template <class T>
struct Field {
  using value_type = std::remove_const_t<T>;
  Field(const char* n, T& v, const char* h) : name(n), value(v), help(h) {}
  const char* name;
  T& value;
  const char* help;
  char short_name = 0;     ///< one-letter alias ("-d"), or 0
  double scale = 1;        ///< the user's value = stored value * scale (1/255 units: 255)
  bool required_ = false;  ///< must be given (no default)
  bool in_result = true;   ///< changes the result: in file attributes, reports and the checkpoint fingerprint
  std::optional<double> lo, hi;
  bool lo_open = false, hi_open = false;

  Field& alias(char c) { short_name = c; return *this; }
  Field& unit(double s) { scale = s; return *this; }
  Field& required() { required_ = true; return *this; }
  /// Not part of the result (paths, verbosity, output switches): left out of fingerprint and attributes.
  Field& not_result() { in_result = false; return *this; }
  Field& at_least(double v) { lo = v; lo_open = false; return *this; }
  Field& above(double v) { lo = v; lo_open = true; return *this; }
  Field& at_most(double v) { hi = v; hi_open = false; return *this; }
  Field& below(double v) { hi = v; hi_open = true; return *this; }
  Field& in(double a, double b) { return at_least(a).at_most(b); }

  /// The key in files and reports: "step-size" -> "step_size".
  std::string key() const {
    std::string k = name;
    std::replace(k.begin(), k.end(), '-', '_');
    return k;
  }
};

template <class T>
Field<T> field(const char* name, T& value, const char* help) {
  return Field<T>(name, value, help);
}

// ---- values -------------------------------------------------------------------------------------

/// An option's value in the user's units, for fingerprints, attributes and reports.
using Value = std::variant<std::monostate, bool, std::int64_t, double, std::string>;

template <class T>
Value to_value(const T& v, double scale) {
  if constexpr (std::is_same_v<T, bool>) return v;
  else if constexpr (std::is_enum_v<T>) return to_string(v);
  else if constexpr (std::is_integral_v<T>) return static_cast<std::int64_t>(v);
  else if constexpr (std::is_floating_point_v<T>) return static_cast<double>(v) * scale;
  else if constexpr (std::is_same_v<T, std::string>) return v;
  else {
    static_assert(sizeof(T) == 0, "unsupported option type");
    return {};
  }
}
template <class T>
Value to_value(const std::optional<T>& v, double scale) {
  return v ? to_value(*v, scale) : Value{};
}
inline Value to_value(const std::vector<std::string>& v, double) {
  std::string s;
  for (const auto& x : v) s += (s.empty() ? "" : ",") + x;
  return s;
}

/// "8", "0.1", "salm", "true", "" (absent).
std::string format(const Value& v);

/// (key, value) of every field of `o` that changes the result (or every field, with `all`).
template <class Options>
std::vector<std::pair<std::string, Value>> values(const Options& o, bool all = false) {
  std::vector<std::pair<std::string, Value>> out;
  Options::fields(o, [&](const auto& f) {
    if (all || f.in_result) out.emplace_back(f.key(), to_value(f.value, f.scale));
  });
  return out;
}

/// "method=salm k=10 epsilon=8 max_iters=10 ...": every field that changes the result; a resumed
/// run must match it all (another --max-iters is another run).
template <class Options>
std::string fingerprint(const Options& o) {
  std::string s;
  for (const auto& [k, v] : values(o)) s += (s.empty() ? "" : " ") + k + "=" + format(v);
  return s;
}

// ---- validation ---------------------------------------------------------------------------------

namespace detail {
[[noreturn]] void out_of_domain(const char* name, double got, double scale, const std::optional<double>& lo, bool lo_open,
                                const std::optional<double>& hi, bool hi_open);
}

/// Checks a number against the field's domain (NaN and infinities are never inside one).
template <class T>
void check(const Field<T>& f) {
  using V = typename Field<T>::value_type;
  auto one = [&](double x) {
    bool ok = std::isfinite(x) || (!f.lo && !f.hi && !std::isnan(x));
    if (f.lo) ok = ok && (f.lo_open ? x > *f.lo : x >= *f.lo);
    if (f.hi) ok = ok && (f.hi_open ? x < *f.hi : x <= *f.hi);
    if (!ok) detail::out_of_domain(f.name, x, 1, f.lo, f.lo_open, f.hi, f.hi_open);
  };
  if constexpr (std::is_arithmetic_v<V> && !std::is_same_v<V, bool>) {
    one(static_cast<double>(f.value) * f.scale);
  } else if constexpr (!std::is_enum_v<V> && !std::is_same_v<V, std::string> && !std::is_same_v<V, bool>) {
    using I = typename V::value_type;  // std::optional<I>
    if constexpr (std::is_arithmetic_v<I> && !std::is_same_v<I, bool>)
      if (f.value) one(static_cast<double>(*f.value) * f.scale);
  }
}

/// UsageError naming the first field outside its domain ("--k must be in (0, 100], got 0").
template <class Options>
void validate_fields(const Options& o) {
  Options::fields(o, [](const auto& f) { check(f); });
}

}  // namespace salm::opt
