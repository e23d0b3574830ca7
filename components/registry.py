"""Every component tfpipe knows: name -> the package that holds its spec. One line per component."""

COMPONENTS = {
    "example_gen": "components.example_gen",
    "transform": "components.transform",
    "trainer": "components.trainer",
    "evaluator": "components.evaluator",
    "pusher": "components.pusher",
}
