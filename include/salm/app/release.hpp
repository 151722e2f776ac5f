/// `salm export` (the protected release: what a data owner publishes) and `salm restore` (the
/// clean data back from a release and its noise file, for authorised partners) as library code.
#pragma once

#include <string>

#include "salm/app/datasets.hpp"
#include "salm/app/figures.hpp"
#include "salm/core/option_table.hpp"
#include "salm/data/reader.hpp"
#include "salm/dist/communicator.hpp"

namespace salm::app {

enum class ReleaseFormat { npz, png };
enum class ReleaseSplits { train, all };

}  // namespace salm::app

namespace salm::opt {
template <> struct EnumNames<app::ReleaseFormat> {
  static const std::vector<std::pair<app::ReleaseFormat, const char*>>& values();
};
template <> struct EnumNames<app::ReleaseSplits> {
  static const std::vector<std::pair<app::ReleaseSplits, const char*>>& values();
};
}  // namespace salm::opt

namespace salm::app {

struct ExportRequest {
  NoiseSource source;
  OutputFile output;
  ReleaseFormat format = ReleaseFormat::npz;
  ReleaseSplits splits = ReleaseSplits::train;
  bool allow_unchecked = false;
  data::OpenOptions open;

  template <class Self, class V>
  static void fields(Self& o, V&& v) {
    using opt::field;
    NoiseSource::fields(o.source, v);
    OutputFile::fields(o.output, v, "release: a .npz file (npz) or a directory (png)");
    v(field("format", o.format, "npz (MedMNIST layout, deflated) or png (one file per image)"));
    v(field("splits", o.splits,
            "train (only the protected images) or all (also the source's val and test splits, clean: anyone may "
            "train on those; a warning says so)"));
    v(field("allow-unchecked", o.allow_unchecked,
            "release a noise file whose protection was never checked (protect without --target-val-acc) or whose "
            "check failed; a warning says so")
          .not_result());
    data::OpenOptions::fields(o.open, v);
  }
};

/// Writes the release (rank 0): train = the noise file's /protected rows, checked against the
/// source; with `splits all` (asked for explicitly, with one warning line), also the source's
/// other splits as they are, clean. The release holds images and labels only: no noise, mask,
/// source path or hash.
void export_release(const ExportRequest& request, dist::Communicator& comm);

struct RestoreRequest {
  std::string release;
  std::string noise;
  OutputFile output;
  data::OpenOptions open;

  template <class Self, class V>
  static void fields(Self& o, V&& v) {
    using opt::field;
    v(field("protected", o.release, "the release: train split = the noise file's /protected rows").required());
    v(field("noise", o.noise, "noise file").required());
    OutputFile::fields(o.output, v, "restored dataset (.h5)");
    data::OpenOptions::fields(o.open, v);
  }
};

/// Writes the restored dataset (collective): round(protected - 255 delta) is exactly the original
/// uint8 image, since protected = round(255 (x + delta)) with x + delta in [0, 1].
void restore(const RestoreRequest& request, dist::Communicator& comm);

}  // namespace salm::app
