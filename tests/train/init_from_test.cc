// TrainConfig.init_from and freeze through the trainer: values loaded by
// name (bit for bit) from a checkpoint of another graph and from a
// directory of .npy files with a prefix rename, new parameters keeping
// their initial values, the printed summary, frozen parameters left
// bit-identical with no gradient and no optimizer state, and the errors.

#include "train/init_from.h"

#include <cstring>
#include <filesystem>
#include <fstream>

#include "absl/strings/str_cat.h"
#include "absl/strings/str_join.h"
#include "absl/strings/str_replace.h"
#include "config/train_config.h"
#include "core/checkpoint.h"
#include "core/npy.h"
#include "gmock/gmock.h"
#include "gtest/gtest.h"
#include "tests/test_util.h"
#include "train/trainer.h"

namespace rill {
namespace {

namespace fs = std::filesystem;
using ::testing::HasSubstr;

// A directory holding the sine MLP's data and its graph with each name
// prefix replaced (e.g. "layer2/" by "head/"); returns the directory.
std::string SineVariant(
    const std::string& name,
    const std::vector<std::pair<std::string, std::string>>& renames) {
  const std::string dir = TestTempPath(name);
  fs::create_directories(dir);
  for (const char* f : {"sine_x.npy", "sine_y.npy"}) {
    fs::copy_file(std::string("examples/train/") + f, dir + "/" + f,
                  fs::copy_options::overwrite_existing);
  }
  std::vector<std::pair<absl::string_view, absl::string_view>> pairs(
      renames.begin(), renames.end());
  std::ofstream(dir + "/sine_mlp.pbtxt") << absl::StrReplaceAll(
      ReadTestFile("examples/train/sine_mlp.pbtxt"), pairs);
  return dir;
}

TrainConfig SineConfig(int64_t steps) {
  auto config = LoadTrainConfig("examples/train/sine_mlp.train.pbtxt");
  EXPECT_TRUE(config.ok()) << config.status();
  config->set_steps(steps);
  config->set_threads(2);
  config->clear_schedule();  // Its warm-up is longer than these runs.
  return *config;
}

struct Made {
  std::unique_ptr<Trainer> trainer;
  std::vector<std::string> log;
};

absl::StatusOr<Made> Make(const TrainConfig& config, const std::string& dir,
                          const std::string& out_dir = "") {
  Made m;
  auto log = std::make_shared<std::vector<std::string>>();
  TrainOptions options;
  options.out_dir = out_dir;
  options.log = [log](const std::string& line) { log->push_back(line); };
  ASSIGN_OR_RETURN(m.trainer, CreateTrainer(config, dir, options));
  m.log = *log;
  return m;
}

std::string Bytes(const Tensor& t) {
  return std::string(static_cast<const char*>(t.raw_data()), t.byte_size());
}

std::string Value(Trainer& t, const std::string& name) {
  return Bytes(*t.executor().mutable_value(name));
}

// A 4-step run of the sine MLP; returns its checkpoint.
std::string Pretrain() {
  const std::string out = TestTempPath("pretrained");
  if (fs::exists(out + "/ckpt-00000004.rckpt")) {
    return out + "/ckpt-00000004.rckpt";
  }
  auto pre = Make(SineConfig(4), "examples/train", out);
  EXPECT_TRUE(pre.ok()) << pre.status();
  EXPECT_TRUE(pre->trainer->Run().ok());
  return out + "/ckpt-00000004.rckpt";
}

TEST(InitFrom, LoadsTheSharedNamesOfAnotherGraphsCheckpoint) {
  const std::string ckpt = Pretrain();
  auto saved = ReadCheckpoint(ckpt);
  ASSERT_TRUE(saved.ok()) << saved.status();
  const auto params = CheckpointParameters(*saved);
  const std::string dir = SineVariant("head", {{"layer2/", "head/"}});
  auto fresh = Make(SineConfig(4), dir);
  ASSERT_TRUE(fresh.ok()) << fresh.status();
  EXPECT_TRUE(fresh->log.empty());

  TrainConfig config = SineConfig(4);
  config.mutable_init_from()->set_path(fs::path(ckpt).parent_path());
  auto m = Make(config, dir);
  ASSERT_TRUE(m.ok()) << m.status();
  Trainer& t = *m->trainer;
  for (const char* name : {"layer0/w", "layer0/b", "layer1/w", "layer1/b"}) {
    EXPECT_EQ(Value(t, name), Bytes(*params.at(name))) << name;
  }
  // Four Adam steps moved the pretrained weights away from their start.
  EXPECT_NE(Value(t, "layer0/w"), Value(*fresh->trainer, "layer0/w"));
  for (const char* name : {"head/w", "head/b"}) {
    EXPECT_EQ(Value(t, name), Value(*fresh->trainer, name)) << name;
  }
  EXPECT_EQ(absl::StrJoin(m->log, "\n"),
            absl::StrCat("init_from ", ckpt,
                         " (a rill checkpoint, 6 entries)\n"
                         "  loaded 4: layer0/b, layer0/w, layer1/b, layer1/w\n"
                         "  newly initialised 2: head/b, head/w\n"
                         "  unused from the source 2: layer2/b, layer2/w"));
}

TEST(InitFrom, ReadsANpyDirectoryWithAPrefixRename) {
  auto saved = ReadCheckpoint(Pretrain());
  ASSERT_TRUE(saved.ok()) << saved.status();
  const auto params = CheckpointParameters(*saved);
  const std::string dir = SineVariant("dotted", {{"layer0/", "encoder.layer0."},
                                                 {"layer1/", "encoder.layer1."},
                                                 {"layer2/", "head."}});
  // HF-style names: dots, without the graph's "encoder." prefix.
  const std::string npy = TestTempPath("npy");
  fs::create_directories(npy);
  for (const char* name : {"layer0/w", "layer0/b", "layer1/w", "layer1/b"}) {
    std::string key = name;
    key[6] = '.';
    ASSERT_TRUE(WriteNpy(npy + "/" + key + ".npy", *params.at(name)).ok());
  }
  ASSERT_TRUE(WriteNpy(npy + "/cls.bias.npy", *params.at("layer2/b")).ok());

  TrainConfig config = SineConfig(4);
  config.mutable_init_from()->set_path(npy);
  auto unmatched = Make(config, dir);
  ASSERT_FALSE(unmatched.ok());
  EXPECT_EQ(unmatched.status().message(),
            absl::StrCat(
                "init_from: no entry of ", npy,
                " matches a parameter of the graph: the graph has "
                "'encoder.layer0.b', 'encoder.layer0.w', 'encoder.layer1.b', "
                "'encoder.layer1.w', ... (6 parameters); the source has "
                "'cls.bias', 'layer0.b', 'layer0.w', 'layer1.b', ... (5 "
                "entries); try init_from { rename { from: \"\" to: "
                "\"encoder.\" } }, which matches 4 of them"));

  PrefixRename* r = config.mutable_init_from()->add_rename();
  r->set_from("");
  r->set_to("encoder.");
  auto m = Make(config, dir, TestTempPath("dotted_out"));
  ASSERT_TRUE(m.ok()) << m.status();
  for (const char* name : {"layer0/w", "layer0/b", "layer1/w", "layer1/b"}) {
    std::string node = absl::StrCat("encoder.", name);
    node[14] = '.';
    EXPECT_EQ(Value(*m->trainer, node), Bytes(*params.at(name))) << node;
  }
  const std::string txt = TestTempPath("dotted_out") + "/init_from.txt";
  EXPECT_EQ(absl::StrJoin(m->log, "\n"),
            absl::StrCat("init_from ", npy,
                         " (a directory of .npy files, 5 entries)\n"
                         "  rename \"\" -> \"encoder.\"\n"
                         "  loaded 4: encoder.layer0.b, encoder.layer0.w, "
                         "encoder.layer1.b, encoder.layer1.w\n"
                         "  newly initialised 2: head.b, head.w\n"
                         "  unused from the source 1: cls.bias\n"
                         "(every name, with its type, in ",
                         txt, ")"));
  // Written once the run starts, with every name and type.
  EXPECT_FALSE(fs::exists(txt));
  ASSERT_TRUE(m->trainer->Run().ok());
  EXPECT_EQ(ReadTestFile(txt),
            absl::StrCat("init_from ", npy,
                         " (a directory of .npy files, 5 entries)\n"
                         "  rename \"\" -> \"encoder.\"\n"
                         "  loaded 4:\n"
                         "    encoder.layer0.b f32[16] <- layer0.b\n"
                         "    encoder.layer0.w f32[2, 16] <- layer0.w\n"
                         "    encoder.layer1.b f32[16] <- layer1.b\n"
                         "    encoder.layer1.w f32[16, 16] <- layer1.w\n"
                         "  newly initialised 2:\n"
                         "    head.b f32[1]\n"
                         "    head.w f32[16, 1]\n"
                         "  unused from the source 1:\n"
                         "    cls.bias f32[1]\n"));
}

TEST(InitFrom, AShapeMismatchNamesTheParameterBothTypesAndTheFile) {
  const std::string dir = SineVariant("mismatch", {{"layer0/", "enc.l0."}});
  const std::string npy = TestTempPath("npy_mismatch");
  fs::create_directories(npy);
  Tensor wrong = *Tensor::Allocate(DType::kF32, Shape{3, 3});
  ASSERT_TRUE(WriteNpy(npy + "/l0.w.npy", wrong).ok());
  TrainConfig config = SineConfig(4);
  config.mutable_init_from()->set_path(npy);
  PrefixRename* r = config.mutable_init_from()->add_rename();
  r->set_from("l0.");
  r->set_to("enc.l0.");
  auto m = Make(config, dir);
  ASSERT_FALSE(m.ok());
  EXPECT_EQ(m.status().message(),
            absl::StrCat("init_from: parameter 'enc.l0.w' is f32[2, 16] in the "
                         "graph but f32[3, 3] in ",
                         npy, "/l0.w.npy (entry 'l0.w')"));
}

TEST(Freeze, FrozenParametersStayBitIdenticalWithNoGradientOrOptimizerState) {
  auto initial = Make(SineConfig(4), "examples/train");
  ASSERT_TRUE(initial.ok()) << initial.status();
  TrainConfig config = SineConfig(4);
  config.add_freeze("layer0/*");
  config.add_freeze("nothing*");
  const std::string out = TestTempPath("frozen");
  auto m = Make(config, "examples/train", out);
  ASSERT_TRUE(m.ok()) << m.status();
  EXPECT_EQ(absl::StrJoin(m->log, "\n"),
            absl::StrCat("warning: freeze[1] = \"nothing*\": matches no "
                         "parameter\n"
                         "frozen 2 (freeze \"layer0/*\", \"nothing*\"): "
                         "layer0/w, layer0/b\n"
                         "(every name, with its type, in ",
                         out, "/init_from.txt)"));
  Trainer& t = *m->trainer;
  // Autodiff left out the frozen layer's gradient.
  EXPECT_LT(t.executor().graph().FindNode("layer0/w/grad"), 0);
  EXPECT_GE(t.executor().graph().FindNode("layer1/w/grad"), 0);
  ASSERT_TRUE(t.Run().ok());
  for (const char* name : {"layer0/w", "layer0/b"}) {
    EXPECT_EQ(Value(t, name), Value(*initial->trainer, name)) << name;
  }
  for (const char* name : {"layer1/w", "layer2/w"}) {
    EXPECT_NE(Value(t, name), Value(*initial->trainer, name)) << name;
  }
  auto saved = ReadCheckpoint(out + "/ckpt-00000004.rckpt");
  ASSERT_TRUE(saved.ok()) << saved.status();
  std::vector<std::string> names;
  for (const auto& [name, unused] : saved->tensors) names.push_back(name);
  EXPECT_THAT(names, ::testing::IsSupersetOf(
                         {"param/layer0/w", "param/layer0/b", "opt/layer1/w/m",
                          "opt/layer1/w/v", "opt/layer2/b/m"}));
  for (const std::string& name : names) {
    EXPECT_THAT(name, ::testing::Not(HasSubstr("opt/layer0/")));
  }
  EXPECT_EQ(Bytes(*CheckpointParameters(*saved).at("layer0/w")),
            Value(*initial->trainer, "layer0/w"));
  EXPECT_EQ(ReadTestFile(out + "/init_from.txt"),
            "frozen 2 (freeze \"layer0/*\", \"nothing*\"):\n"
            "  layer0/w f32[2, 16]\n"
            "  layer0/b f32[16]\n");

  // A resumed run restores the frozen values with the rest.
  auto resumed = Make(config, "examples/train", out);
  ASSERT_TRUE(resumed.ok()) << resumed.status();
  ASSERT_TRUE(resumed->trainer->Restore(out).ok());
  EXPECT_EQ(Value(*resumed->trainer, "layer1/w"), Value(t, "layer1/w"));
}

TEST(Freeze, PatternsThatFreezeEverythingAreAnError) {
  TrainConfig config = SineConfig(4);
  config.add_freeze("layer*");
  auto m = Make(config, "examples/train");
  ASSERT_FALSE(m.ok());
  EXPECT_EQ(m.status().message(),
            "freeze: the patterns freeze all 6 parameters; nothing would be "
            "trained");
}

TEST(Freeze, ANoDecayPatternOfOnlyFrozenParametersIsDropped) {
  TrainConfig config = SineConfig(2);
  config.add_freeze("layer0/*");
  AdamW* adamw = config.mutable_optimizer()->mutable_adamw();
  adamw->add_no_decay("layer0/b");
  adamw->add_no_decay("*/b");
  auto m = Make(config, "examples/train");
  ASSERT_TRUE(m.ok()) << m.status();
}

}  // namespace
}  // namespace rill
