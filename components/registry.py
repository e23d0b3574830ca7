"""Every component tfpipe knows: name -> the package that holds its spec. One line per component."""

COMPONENTS = {
    "example_gen": "components.example_gen",
    "example_validator": "components.example_validator",
    "transform": "components.transform",
    "trainer": "components.trainer",
    "evaluator": "components.evaluator",
    "pusher": "components.pusher",
}
