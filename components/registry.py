"""Every component tfpipe knows: name -> the package that holds its spec. One line per component."""

COMPONENTS = {
    "example_gen": "tfpipe.components.example_gen",
    "example_validator": "tfpipe.components.example_validator",
    "transform": "tfpipe.components.transform",
    "trainer": "tfpipe.components.trainer",
    "evaluator": "tfpipe.components.evaluator",
    "pusher": "tfpipe.components.pusher",
    "bulk_inferrer": "tfpipe.components.bulk_inferrer",
}
