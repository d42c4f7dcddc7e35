// Shards streamed from disk (DataArray::OpenShards, TrainConfig patterns)
// against the same arrays in memory: the same rows, the same training bit
// for bit, and errors that name the file.

#include <cmath>
#include <cstring>
#include <filesystem>
#include <fstream>
#include <string>
#include <vector>

#include "config/train_config.h"
#include "core/npy.h"
#include "gmock/gmock.h"
#include "gtest/gtest.h"
#include "tests/test_util.h"
#include "train/data.h"
#include "train/trainer.h"

namespace rill {
namespace {

using ::testing::HasSubstr;

// `t`'s rows cut at `cuts` into shards dir/<stem>-<k>.npy.
std::vector<std::string> WriteShards(const Tensor& t, const std::string& dir,
                                     const std::string& stem,
                                     const std::vector<int64_t>& cuts) {
  std::vector<std::string> paths;
  std::vector<int64_t> bounds = cuts;
  bounds.insert(bounds.begin(), 0);
  bounds.push_back(t.shape().dim(0));
  for (size_t k = 0; k + 1 < bounds.size(); ++k) {
    auto part = DataArray(*t.Clone()).Slice(bounds[k], bounds[k + 1]);
    EXPECT_TRUE(part.ok()) << part.status();
    std::vector<int64_t> rows(bounds[k + 1] - bounds[k]);
    for (size_t r = 0; r < rows.size(); ++r) rows[r] = r;
    std::vector<int64_t> dims = t.shape().dims();
    dims[0] = rows.size();
    Tensor out = *Tensor::Allocate(t.dtype(), Shape(dims));
    EXPECT_TRUE(part->Gather(rows.data(), rows.size(), out).ok());
    paths.push_back(dir + "/" + stem + "-0000" + std::to_string(k) + ".npy");
    EXPECT_TRUE(WriteNpy(paths.back(), out).ok());
  }
  return paths;
}

Tensor Iota(DType dtype, const Shape& shape) {
  Tensor t = *Tensor::Allocate(dtype, shape);
  for (int64_t i = 0; i < t.num_elements(); ++i) {
    if (dtype == DType::kI64) t.data<int64_t>()[i] = i;
    if (dtype == DType::kF32) t.data<float>()[i] = 0.5f * i;
  }
  return t;
}

std::string Bytes(const Tensor& t) {
  return std::string(static_cast<const char*>(t.raw_data()), t.byte_size());
}

TEST(DataArray, ShardsGatherTheRowsOfTheConcatenation) {
  const std::string dir = TestTempPath("gather");
  std::filesystem::create_directories(dir);
  Tensor all = Iota(DType::kI64, Shape{10, 3});
  auto shards = DataArray::OpenShards(WriteShards(all, dir, "a", {4, 5}));
  ASSERT_TRUE(shards.ok()) << shards.status();
  EXPECT_TRUE(shards->streamed());
  EXPECT_EQ(shards->num_shards(), 3);
  EXPECT_EQ(shards->shape(), (Shape{10, 3}));
  const DataArray memory(*all.Clone());
  const std::vector<int64_t> rows = {9, 0, 4, 4, 7, 3, 5};
  Tensor a = *Tensor::Allocate(DType::kI64, Shape{7, 3});
  Tensor b = *Tensor::Allocate(DType::kI64, Shape{7, 3});
  ASSERT_TRUE(shards->Gather(rows.data(), 7, a).ok());
  ASSERT_TRUE(memory.Gather(rows.data(), 7, b).ok());
  EXPECT_EQ(Bytes(a), Bytes(b));
  EXPECT_EQ(a.data<int64_t>()[0], 27);  // Row 9, from the last shard.
  // A slice is a view: its row 0 is row 3 of the whole.
  auto tail = shards->Slice(3, 10);
  ASSERT_TRUE(tail.ok());
  const int64_t first = 0;
  Tensor one = *Tensor::Allocate(DType::kI64, Shape{1, 3});
  ASSERT_TRUE(tail->Gather(&first, 1, one).ok());
  EXPECT_EQ(one.data<int64_t>()[0], 9);
  EXPECT_EQ(tail->shape(), (Shape{7, 3}));
}

TEST(DataArray, ShardsThatDisagreeOrBreakAreErrorsNamingTheFile) {
  const std::string dir = TestTempPath("disagree");
  std::filesystem::create_directories(dir);
  auto a = WriteShards(Iota(DType::kI64, Shape{4, 3}), dir, "a", {});
  auto wide = WriteShards(Iota(DType::kI64, Shape{2, 4}), dir, "w", {});
  auto f32 = WriteShards(Iota(DType::kF32, Shape{2, 3}), dir, "f", {});
  for (const auto& other : {wide[0], f32[0]}) {
    auto s = DataArray::OpenShards({a[0], other});
    ASSERT_FALSE(s.ok());
    EXPECT_THAT(s.status().message(), HasSubstr(other + ": holds "));
    EXPECT_THAT(s.status().message(), HasSubstr("but the first shard, " + a[0] +
                                                ", holds i64[4, 3]"));
  }
  std::ofstream(dir + "/junk.npy") << "not numpy";
  auto junk = DataArray::OpenShards({a[0], dir + "/junk.npy"});
  ASSERT_FALSE(junk.ok());
  EXPECT_THAT(junk.status().message(),
              HasSubstr(dir + "/junk.npy: not a .npy file"));
  auto missing = DataArray::OpenShards({dir + "/none.npy"});
  EXPECT_THAT(missing.status().message(), HasSubstr(dir + "/none.npy"));
  // A file cut short after loading: the read names the file and row.
  auto opened = DataArray::OpenShards(a);
  ASSERT_TRUE(opened.ok());
  std::filesystem::resize_file(a[0], std::filesystem::file_size(a[0]) - 24);
  const int64_t last = 3;
  Tensor row = *Tensor::Allocate(DType::kI64, Shape{1, 3});
  absl::Status read = opened->Gather(&last, 1, row);
  EXPECT_THAT(read.message(), HasSubstr(a[0] + ": row 3: cannot read"));
}

TEST(DataArray, BoolShardsRefuseBytesOtherThanZeroAndOne) {
  const std::string dir = TestTempPath("bools");
  std::filesystem::create_directories(dir);
  Tensor flags = *Tensor::Allocate(DType::kBool, Shape{3, 2});
  std::memset(flags.raw_data(), 1, flags.byte_size());
  const std::string path = dir + "/b.npy";
  ASSERT_TRUE(WriteNpy(path, flags).ok());
  std::fstream f(path, std::ios::in | std::ios::out | std::ios::binary);
  f.seekp(std::filesystem::file_size(path) - 1);
  f.put(7);  // Row 2, element 1.
  f.close();
  auto s = DataArray::OpenShards({path});
  ASSERT_TRUE(s.ok()) << s.status();
  const int64_t rows[] = {0, 2};
  Tensor out = *Tensor::Allocate(DType::kBool, Shape{2, 2});
  EXPECT_THAT(s->Gather(rows, 2, out).message(),
              HasSubstr(path + ": row 2: bool element 1 is byte 7"));
}

// The sine example's data as shards in a directory of its own, with the
// graph, and a config that names them by pattern (or, `in_memory`, by the
// whole files).
std::string ShardedSineDir(const std::string& name) {
  const std::string dir = TestTempPath(name);
  std::filesystem::create_directories(dir + "/shards");
  for (const char* f : {"sine_mlp.pbtxt", "sine_x.npy", "sine_y.npy"}) {
    std::filesystem::copy_file(std::string("examples/train/") + f,
                               dir + "/" + f);
  }
  for (const char* stem : {"sine_x", "sine_y"}) {
    auto t = ReadNpy(dir + "/" + stem + ".npy", 1 << 30);
    EXPECT_TRUE(t.ok());
    WriteShards(*t, dir + "/shards", stem, {100, 101, 700});
  }
  return dir;
}

TrainConfig SineConfig(bool in_memory, bool validation_files) {
  auto config = LoadTrainConfig("examples/train/sine_mlp.train.pbtxt");
  EXPECT_TRUE(config.ok()) << config.status();
  config->set_steps(60);
  config->set_threads(2);
  if (!in_memory) {
    config->mutable_data(0)->set_file("shards/sine_x-*.npy");
    config->mutable_data(1)->set_file("shards/sine_y-*.npy");
  }
  if (validation_files) {
    config->set_validation_split(0);
    *config->mutable_validation_data() = config->data();
  }
  return *config;
}

struct TrainRun {
  std::vector<double> losses;
  double val_loss = 0;
  std::vector<std::string> params;
};

TrainRun Train(const TrainConfig& config, const std::string& dir) {
  TrainOptions options;
  options.log = [](const std::string&) {};
  auto setup = LoadTrainSetup(config, dir, options);
  EXPECT_TRUE(setup.ok()) << setup.status();
  TrainRun run;
  if (!setup.ok()) return run;
  EXPECT_EQ(setup->data.train.arrays[0].streamed(),
            config.data(0).file().find('*') != std::string::npos);
  auto t = Trainer::Create(std::move(setup->graph), std::move(setup->data),
                           std::move(setup->options));
  EXPECT_TRUE(t.ok()) << t.status();
  if (!t.ok()) return run;
  for (int i = 0; i < config.steps(); ++i) {
    auto r = (*t)->Step();
    EXPECT_TRUE(r.ok()) << r.status();
    if (r.ok()) run.losses.push_back(r->loss);
  }
  run.val_loss = *(*t)->Evaluate();
  for (const char* p : {"layer0/w", "layer0/b", "layer1/w", "layer1/b",
                        "layer2/w", "layer2/b"}) {
    const Tensor* v = (*t)->executor().mutable_value(p);
    EXPECT_NE(v, nullptr) << p;
    if (v != nullptr) run.params.push_back(Bytes(*v));
  }
  return run;
}

TEST(StreamedData, TrainsBitwiseAsTheSameArraysInMemory) {
  const std::string dir = ShardedSineDir("sine");
  for (bool validation_files : {false, true}) {
    TrainRun memory = Train(SineConfig(true, validation_files), dir);
    TrainRun streamed = Train(SineConfig(false, validation_files), dir);
    ASSERT_EQ(memory.losses.size(), 60u);
    EXPECT_EQ(memory.losses, streamed.losses);
    EXPECT_EQ(memory.params, streamed.params);
    EXPECT_EQ(memory.val_loss, streamed.val_loss);
    EXPECT_TRUE(std::isfinite(memory.val_loss));
  }
}

TEST(StreamedData, PatternsThatMatchNothingOrDisagreeAreErrors) {
  const std::string dir = ShardedSineDir("bad_patterns");
  TrainConfig config = SineConfig(false, false);
  config.mutable_data(1)->set_file("shards/nothing-*.npy");
  auto setup = LoadTrainSetup(config, dir, TrainOptions());
  EXPECT_THAT(setup.status().message(),
              HasSubstr("data[1].file: " + dir +
                        "/shards/nothing-*.npy: matches no file"));
  // x's shards bound to the target: the shape error names the pattern.
  config.mutable_data(1)->set_file("shards/sine_x-*.npy");
  setup = LoadTrainSetup(config, dir, TrainOptions());
  EXPECT_THAT(setup.status().message(),
              HasSubstr("data[1]: shards/sine_x-*.npy holds f32[1024, 2] but "
                        "input 'target' is f32[?, 1]"));
  // One shard of y missing: the example counts differ.
  std::filesystem::remove(dir + "/shards/sine_y-00003.npy");
  config.mutable_data(1)->set_file("shards/sine_y-*.npy");
  setup = LoadTrainSetup(config, dir, TrainOptions());
  EXPECT_THAT(setup.status().message(),
              HasSubstr("shards/sine_y-*.npy has 700 examples but "
                        "shards/sine_x-*.npy has 1024"));
}

// Issue 21 item 6: labels and indices out of range are found at load,
// naming the file and the row in it, streamed or in memory.
TEST(StreamedData, LabelsOutOfRangeAreFoundAtLoadNamingFileAndRow) {
  const std::string dir = TestTempPath("labels");
  std::filesystem::create_directories(dir + "/pretrain");
  std::filesystem::copy_file("examples/bert/nsp_tiny.pbtxt",
                             dir + "/nsp_tiny.pbtxt");
  Tensor types = *Tensor::Allocate(DType::kI64, Shape{40, 8});
  Tensor labels = *Tensor::Allocate(DType::kI64, Shape{40});
  for (int64_t i = 0; i < 40; ++i) labels.data<int64_t>()[i] = i % 2;
  for (int64_t i = 0; i < types.num_elements(); ++i) {
    types.data<int64_t>()[i] = i % 3 == 0;
  }
  labels.data<int64_t>()[27] = 2;  // Shard 1 (rows 20-39), its row 7.
  for (const char* stem : {"token_type_ids", "attention_mask"}) {
    WriteShards(types, dir + "/pretrain", stem, {20});
  }
  WriteShards(labels, dir + "/pretrain", "next_sentence_labels", {20});
  ASSERT_TRUE(WriteNpy(dir + "/labels.npy", labels).ok());
  auto config = LoadTrainConfig("examples/bert/nsp_tiny.train.pbtxt");
  ASSERT_TRUE(config.ok()) << config.status();
  auto setup = LoadTrainSetup(*config, dir, TrainOptions());
  ASSERT_FALSE(setup.ok());
  EXPECT_THAT(setup.status().message(),
              HasSubstr("data[2]: " + dir +
                        "/pretrain/next_sentence_labels-00001.npy: row 7: "
                        "label 2 is outside [0, 2) (and not ignore_index "
                        "-100)"));
  EXPECT_THAT(setup.status().message(), HasSubstr("node 'loss'"));
  config->mutable_data(2)->set_file("labels.npy");
  setup = LoadTrainSetup(*config, dir, TrainOptions());
  ASSERT_FALSE(setup.ok());
  EXPECT_THAT(setup.status().message(),
              HasSubstr("data[2]: labels.npy: row 27: label 2 is outside"));
  labels.data<int64_t>()[27] = -100;  // ignore_index is allowed.
  std::filesystem::remove(dir + "/labels.npy");
  ASSERT_TRUE(WriteNpy(dir + "/labels.npy", labels).ok());
  setup = LoadTrainSetup(*config, dir, TrainOptions());
  EXPECT_TRUE(setup.ok()) << setup.status();
  // The graph allows attention_mask only 0 and 1 (allowed_values).
  types.data<int64_t>()[8 * 23 + 5] = 3;  // Shard 1, its row 3.
  for (const char* shard : {"-00000.npy", "-00001.npy"}) {
    std::filesystem::remove(dir + "/pretrain/attention_mask" + shard);
  }
  WriteShards(types, dir + "/pretrain", "attention_mask", {20});
  setup = LoadTrainSetup(*config, dir, TrainOptions());
  ASSERT_FALSE(setup.ok());
  EXPECT_THAT(setup.status().message(),
              HasSubstr("/pretrain/attention_mask-00001.npy: row 3: value 3 "
                        "is not allowed; input 'attention_mask' allows only "
                        "0, 1"));
}

}  // namespace
}  // namespace rill
