"""The smallest world model and intrinsic-reward heads the tests train: one definition for every test
file that runs a real (short) training loop, so a change of sizes cannot drift between them."""

#: WorldModelConfig overrides: 16x16 frames, a 32-wide recurrent state, 4 groups of 4 classes
TINY_WORLD_MODEL = {
    "image_size": 16,
    "cnn_depth": 4,
    "vision_embed": 32,
    "vector_embed": 8,
    "mlp_units": 32,
    "mlp_layers": 1,
    "deter": 32,
    "stoch_groups": 4,
    "stoch_classes": 4,
    "hidden": 32,
    "batch_size": 4,
    "seq_len": 8,
}
#: IntrinsicConfig overrides: narrow heads and a short episodic memory
TINY_INTRINSIC = {"ensemble_units": 16, "coherence_units": 16, "episodic_capacity": 256}
