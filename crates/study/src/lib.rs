//! Rating studies (Stock & Cisse, ECCV 2018, §3.1–3.3): the questions people answer about a
//! model's mistakes, real human votes imported from ReaL and cleanlab, and the aggregation that
//! turns votes into rectified errors.
//!
//! * [`model`]: items, questions, answers, votes — shared with the server (`rectify-web`).

pub mod model;

pub use model::{Answer, AssignOption, ClassRef, Design, ImageRef, Item, Question, Vote};
