#include "salm/core/options.hpp"

#include <cmath>

#include <fmt/format.h>

#include "salm/core/error.hpp"

namespace salm {

namespace opt {

const std::vector<std::pair<Method, const char*>>& EnumNames<Method>::values() {
  static const std::vector<std::pair<Method, const char*>> v{
      {Method::salm, "salm"}, {Method::em, "em"}, {Method::tap, "tap"}, {Method::sp, "sp"}, {Method::random, "random"}};
  return v;
}
const std::vector<std::pair<MaskUpdate, const char*>>& EnumNames<MaskUpdate>::values() {
  static const std::vector<std::pair<MaskUpdate, const char*>> v{{MaskUpdate::every, "every"}, {MaskUpdate::once, "once"}};
  return v;
}
const std::vector<std::pair<MaskScore, const char*>>& EnumNames<MaskScore>::values() {
  static const std::vector<std::pair<MaskScore, const char*>> v{{MaskScore::gradient, "gradient"},
                                                                {MaskScore::feasible, "feasible"}};
  return v;
}
const std::vector<std::pair<MaskScope, const char*>>& EnumNames<MaskScope>::values() {
  static const std::vector<std::pair<MaskScope, const char*>> v{{MaskScope::sample, "sample"}, {MaskScope::klass, "class"}};
  return v;
}
const std::vector<std::pair<Init, const char*>>& EnumNames<Init>::values() {
  static const std::vector<std::pair<Init, const char*>> v{
      {Init::zero, "zero"}, {Init::uniform, "uniform"}, {Init::klass, "class"}, {Init::texture, "texture"}};
  return v;
}
const std::vector<std::pair<Augment, const char*>>& EnumNames<Augment>::values() {
  static const std::vector<std::pair<Augment, const char*>> v{{Augment::none, "none"}, {Augment::flip_crop, "flip-crop"}};
  return v;
}
const std::vector<std::pair<Optimizer, const char*>>& EnumNames<Optimizer>::values() {
  static const std::vector<std::pair<Optimizer, const char*>> v{{Optimizer::sgd, "sgd"}, {Optimizer::adam, "adam"}};
  return v;
}

const std::vector<std::pair<Precision, const char*>>& EnumNames<Precision>::values() {
  static const std::vector<std::pair<Precision, const char*>> v{
      {Precision::fp32, "fp32"}, {Precision::tf32, "tf32"}, {Precision::bf16, "bf16"}};
  return v;
}

std::string format(const Value& v) {
  return std::visit(
      [](const auto& x) -> std::string {
        using T = std::decay_t<decltype(x)>;
        if constexpr (std::is_same_v<T, std::monostate>) return "";
        else if constexpr (std::is_same_v<T, bool>) return x ? "true" : "false";
        else if constexpr (std::is_same_v<T, double>) return fmt::format("{:.9g}", x);
        else return fmt::format("{}", x);
      },
      v);
}

namespace detail {
void out_of_domain(const char* name, double got, double scale, const std::optional<double>& lo, bool lo_open,
                   const std::optional<double>& hi, bool hi_open) {
  std::string domain;
  if (lo && hi) domain = fmt::format("in {}{:g}, {:g}{}", lo_open ? "(" : "[", *lo, *hi, hi_open ? ")" : "]");
  else if (lo) domain = fmt::format("{} {:g}", lo_open ? ">" : ">=", *lo);
  else if (hi) domain = fmt::format("{} {:g}", hi_open ? "<" : "<=", *hi);
  else domain = "a finite number";
  throw UsageError(fmt::format("--{} must be {}, got {:g}", name, domain, got * scale));
}
}  // namespace detail

}  // namespace opt

void ProtectOptions::validate() const {
  opt::validate_fields(*this);
  if (split != "train" && split != "val" && split != "test")
    throw UsageError(fmt::format("--split: unknown value '{}' (one of: train, val, test)", split));
  if (closed_loop() && !min_min())
    throw UsageError(fmt::format("--target-val-acc needs the min-min loop (--method salm or em), not {}", opt::to_string(method)));
  if (closed_loop() && split == "val")
    throw UsageError("--target-val-acc judges on the clean val split, so it cannot protect --split val");
}

std::int64_t ProtectOptions::mask_pixels(std::int64_t pixels) const {
  auto m = static_cast<std::int64_t>(std::ceil(effective_k() / 100.0 * static_cast<double>(pixels) - 1e-9));
  return std::max<std::int64_t>(1, std::min(m, pixels));
}

}  // namespace salm
