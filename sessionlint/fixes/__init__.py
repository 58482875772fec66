"""CST builders and text-edit helpers shared by the rules' fixes."""
